#include "framework/internal/registry_protection.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "discovery/zookeeper_paths.h"

namespace slacker::internal {
namespace {

using discovery::AclEntry;

// How often a node's ACL is re-read and set again when someone else changes
// it at the same moment (ZBADVERSION).
constexpr int kAttempts = 5;

std::vector<AclEntry> Sorted(std::vector<AclEntry> acl) {
  std::sort(acl.begin(), acl.end(), [](const AclEntry& a, const AclEntry& b) {
    return std::tie(a.scheme, a.id, a.permissions) <
           std::tie(b.scheme, b.id, b.permissions);
  });
  return acl;
}

// Whether `acl` lets a client without credentials do more than read.
bool OpenBeyondRead(const std::vector<AclEntry>& acl) {
  for (const AclEntry& entry : acl) {
    if (entry.scheme == "world" &&
        (entry.permissions & ~discovery::kPermRead) != 0) {
      return true;
    }
  }
  return false;
}

std::string DigestUser(const discovery::ZooKeeperClient& client) {
  const std::string& digest = client.options().digest;
  return digest.substr(0, digest.find(':'));
}

// Gives `path` the client's ACL, saying so when that changed it.
absl::Status Protect(discovery::ZooKeeperClient& client,
                     const std::string& path) {
  for (int attempt = 1;; ++attempt) {
    auto before = client.GetAcl(path);
    absl::Status set = before.status();
    if (before.ok()) {
      set = client.SetAcl(path, client.AclFor(path), before->second.aversion);
    }
    if (absl::IsFailedPrecondition(set) && attempt < kAttempts) continue;
    if (absl::IsPermissionDenied(set)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot protect ZooKeeper node ", path, ": its ACL [",
          before.ok() ? discovery::AclToString(before->first)
                      : std::string("unreadable by this server"),
          "] does not let this server's identity (digest user '",
          DigestUser(client),
          "') change it, so another identity owns it and could delete or "
          "replace this server's registrations. Use the digest of the "
          "cluster's other servers (ClusterOptions::zookeeper_digest), "
          "another cluster name, or have that identity (or ZooKeeper's super "
          "user) delete the node or give it this server's ACL"));
    }
    if (!set.ok()) return set;
    auto after = client.GetAcl(path);
    if (!after.ok()) return after.status();
    if (Sorted(before->first) == Sorted(after->first)) return absl::OkStatus();
    Log(LogLevel::kWarning,
        absl::StrCat(
            "repaired the ACL of ZooKeeper node ", path, ": it was [",
            discovery::AclToString(before->first), "]",
            OpenBeyondRead(before->first)
                ? ", which let any ZooKeeper client create, delete or change "
                  "nodes there (fake publishers, deleted registrations)"
                : "",
            "; it is now [", discovery::AclToString(after->first),
            "]. It was made before this server by someone with another ACL "
            "(an open server or client of this cluster, or a tool): find out "
            "who, and check the nodes below it (zkCli.sh: getAcl ",
            path, "; ls ", path,
            "): what others made there stays until deleted or until their "
            "session ends, and open servers can no longer register here"));
    return absl::OkStatus();
  }
}

// Creates `path` (and missing parents, with the client's ACL for each) if it
// is not there, then protects it.
absl::Status EnsureProtected(discovery::ZooKeeperClient& client,
                             const std::string& path) {
  absl::StatusOr<std::string> created =
      client.Create(path, "", discovery::CreateMode::kPersistent,
                    /*create_parents=*/true);
  if (!created.ok() && !absl::IsAlreadyExists(created.status())) {
    return created.status();
  }
  return Protect(client, path);
}

}  // namespace

absl::Status ProtectClusterNodes(discovery::ZooKeeperClient& client,
                                 const discovery::RegistryLayout& layout,
                                 const std::vector<std::string>& namespaces) {
  if (client.options().acl == discovery::AclPolicy::kOpen) {
    return absl::OkStatus();
  }
  // Top down: a parent is protected before anything is made below it.
  std::vector<std::string> paths = {layout.ClusterPath(), layout.ServersPath(),
                                    layout.NamespacesPath()};
  if (!namespaces.empty()) {
    paths.push_back(discovery::ParentPath(layout.FunctionsPath(namespaces[0])));
  }
  for (const std::string& ns : namespaces) {
    paths.push_back(layout.NamespacePath(ns));
    paths.push_back(layout.LeaderPath(ns));
    paths.push_back(layout.FunctionsPath(ns));
  }
  for (const std::string& path : paths) {
    if (absl::Status protected_ = EnsureProtected(client, path);
        !protected_.ok()) {
      return protected_;
    }
  }
  for (const std::string& ns : namespaces) {
    absl::StatusOr<discovery::NodeChildren> records =
        client.GetChildren(layout.FunctionsPath(ns));
    if (!records.ok()) return records.status();
    for (const std::string& method : records->names) {
      absl::Status protected_ =
          Protect(client, layout.FunctionPath(ns, method));
      // Deleted meanwhile: FunctionRecords writes it again, with this ACL.
      if (!protected_.ok() && !absl::IsNotFound(protected_)) return protected_;
    }
  }
  return absl::OkStatus();
}

}  // namespace slacker::internal
