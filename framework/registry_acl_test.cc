// Protected registrations (ClusterOptions::zookeeper_digest / zookeeper_acl)
// against a foreign ZooKeeper client, and what the open default lets such a
// client do. Real ZooKeeper; servers and channels in this process.

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/cluster_channel.h"
#include "framework/cluster_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protos/slacker/cluster/registry.pb.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/echo_service.h"
#include "testing/zookeeper_fixture.h"

namespace slacker {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kEcho[] = "slacker.testing.EchoService";
constexpr char kAlice[] = "alice:alice-secret";
constexpr char kBob[] = "bob:bob-secret";

discovery::RegistryLayout Layout(const std::string& cluster = "test") {
  return discovery::RegistryLayout(discovery::kDefaultRegistryRoot, cluster);
}

// The framework's warnings while it lives (the log sink is process-wide).
class Warnings {
 public:
  Warnings() {
    slacker::SetLogSink([this](LogLevel level, absl::string_view message) {
      if (level < LogLevel::kWarning) return;
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(message);
    });
  }
  ~Warnings() { slacker::SetLogSink(nullptr); }
  std::string All() {
    std::lock_guard<std::mutex> lock(mu_);
    return absl::StrJoin(lines_, "\n");
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// An Echo server that counts its calls: the fake publisher's.
class CountingEcho final : public slacker::testing::EchoService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext*, const slacker::testing::Ping* request,
                    slacker::testing::Ping* response) override {
    ++calls;
    *response = *request;
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
};

class RegistryAclTest : public slacker::testing::ZooKeeperTest {
 protected:
  // A ZooKeeper session of its own, open unless `digest` is given: the
  // foreign client of these tests.
  std::unique_ptr<discovery::ZooKeeperClient> NewClient(
      const std::string& digest = "",
      discovery::AclPolicy acl = discovery::AclPolicy::kOpen) {
    discovery::ZooKeeperOptions options;
    options.connect_string = ConnectString();
    options.session_timeout = absl::Seconds(4);
    options.digest = digest;
    options.acl = acl;
    auto client = discovery::ZooKeeperClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  slacker::ClusterOptions Options(
      const std::string& digest = kAlice, const std::string& cluster = "test",
      discovery::AclPolicy acl = discovery::AclPolicy::kCreatorAllWorldRead) {
    slacker::ClusterOptions options;
    options.cluster = cluster;
    options.zookeeper = ConnectString();
    options.address = "127.0.0.1";
    options.session_timeout = absl::Seconds(2);
    options.connect_timeout = absl::Seconds(10);
    options.drain_time = absl::Milliseconds(100);
    options.zookeeper_digest = digest;
    options.zookeeper_acl = digest.empty() ? discovery::AclPolicy::kOpen : acl;
    return options;
  }

  absl::StatusOr<std::unique_ptr<ClusterServer>> Start(
      slacker::ClusterOptions options) {
    ClusterServerBuilder builder(std::move(options));
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials());
    builder.RegisterService(&echo_);
    return builder.BuildAndStart();
  }

  // The path of the server's election candidate.
  std::string CandidateOf(discovery::ZooKeeperClient& zk,
                          const std::string& address,
                          const std::string& cluster = "test") {
    auto children = zk.GetChildren(Layout(cluster).LeaderPath(kEcho));
    if (!children.ok()) return "";
    for (const std::string& name : children->names) {
      const std::string path =
          absl::StrCat(Layout(cluster).LeaderPath(kEcho), "/", name);
      auto data = zk.Get(path);
      if (data.ok() && data->data == address) return path;
    }
    return "";
  }

  slacker::testing::EchoServiceImpl echo_;
};

TEST_F(RegistryAclTest, ForeignClientCanReadButNotChangeARegistration) {
  auto server = Start(Options());
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  auto foreign = NewClient();
  ASSERT_NE(foreign, nullptr);
  const discovery::RegistryLayout layout = Layout();

  // Everyone reads the layout.
  auto server_node = foreign->Get(layout.ServerPath(address));
  ASSERT_TRUE(server_node.ok()) << server_node.status();
  EXPECT_THAT(server_node->data, HasSubstr(kEcho));
  ASSERT_TRUE(foreign->Get(layout.MemberPath(kEcho, address)).ok());
  const std::string candidate = CandidateOf(*foreign, address);
  ASSERT_FALSE(candidate.empty());
  auto records = foreign->GetChildren(layout.FunctionsPath(kEcho));
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_FALSE(records->names.empty());
  const std::string record = layout.FunctionPath(kEcho, records->names.front());

  // No one else deletes, overwrites, or adds beside it (ZNOAUTH).
  for (const std::string& path :
       {layout.ServerPath(address), layout.MemberPath(kEcho, address),
        candidate, record, layout.NamespacePath(kEcho)}) {
    absl::Status deleted = foreign->Delete(path);
    EXPECT_TRUE(absl::IsPermissionDenied(deleted)) << path << ": " << deleted;
    EXPECT_THAT(deleted.message(), HasSubstr("ZNOAUTH"));
    absl::Status set = foreign->Set(path, "{}").status();
    EXPECT_TRUE(absl::IsPermissionDenied(set)) << path << ": " << set;
  }
  for (const std::string& path :
       {layout.ServerPath("10.9.9.9:1"), layout.MemberPath(kEcho, "10.9.9.9:1"),
        absl::StrCat(layout.LeaderPath(kEcho), "/_c_fake-latch-")}) {
    absl::Status created =
        foreign->Create(path, "", discovery::CreateMode::kEphemeral).status();
    EXPECT_TRUE(absl::IsPermissionDenied(created)) << path << ": " << created;
  }
  absl::Status reacled = foreign->SetAcl(
      layout.NamespacePath(kEcho),
      {discovery::AclEntry{discovery::kPermAll, "world", "anyone"}});
  EXPECT_TRUE(absl::IsPermissionDenied(reacled)) << reacled;
  EXPECT_TRUE(foreign->Exists(layout.ServerPath(address))->has_value());
  EXPECT_TRUE((*server)->IsLeader(kEcho));
  (*server)->Shutdown();
}

TEST_F(RegistryAclTest, RegistrationComesBackAfterSessionExpiry) {
  auto server = Start(Options());
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  const discovery::RegistryLayout layout = Layout();
  const std::pair<int64_t, std::string> old =
      (*server)->zookeeper_session_for_testing();
  const int64_t old_session = old.first;
  ASSERT_TRUE(zookeeper().ExpireSession(old.first, old.second).ok());

  auto foreign = NewClient();
  ASSERT_NE(foreign, nullptr);
  auto owned_by_new_session = [&](const std::string& path) {
    auto stat = foreign->Exists(path);
    return stat.ok() && stat->has_value() &&
           (*stat)->ephemeral_owner != old_session &&
           (*stat)->ephemeral_owner ==
               (*server)->zookeeper_session_for_testing().first;
  };
  EXPECT_TRUE(Eventually(
      [&] { return owned_by_new_session(layout.ServerPath(address)); }));
  EXPECT_TRUE(Eventually(
      [&] { return owned_by_new_session(layout.MemberPath(kEcho, address)); }));
  EXPECT_TRUE(
      Eventually([&] { return !CandidateOf(*foreign, address).empty(); }));
  EXPECT_TRUE(Eventually([&] { return (*server)->IsLeader(kEcho); }));
  // Re-created with the same protection.
  auto acl = foreign->GetAcl(layout.ServerPath(address));
  ASSERT_TRUE(acl.ok()) << acl.status();
  EXPECT_THAT(discovery::AclToString(acl->first), HasSubstr("digest:alice:"));
  EXPECT_THAT(discovery::AclToString(acl->first), HasSubstr("world:anyone:r"));
  absl::Status deleted = foreign->Delete(layout.ServerPath(address));
  EXPECT_TRUE(absl::IsPermissionDenied(deleted)) << deleted;
  (*server)->Shutdown();
}

TEST_F(RegistryAclTest, OpenAndProtectedTenantsShareTheDefaultRoot) {
  // The first server under the root is a protected one: the root stays
  // shared.
  auto alice = Start(Options(kAlice, "alice"));
  ASSERT_TRUE(alice.ok()) << alice.status();
  auto open = Start(Options("", "open"));
  ASSERT_TRUE(open.ok()) << open.status();
  auto bob = Start(Options(kBob, "bob", discovery::AclPolicy::kCreatorAll));
  ASSERT_TRUE(bob.ok()) << bob.status();

  auto foreign = NewClient();
  ASSERT_NE(foreign, nullptr);
  for (const std::string& path :
       {std::string("/slacker"),
        std::string(discovery::kDefaultRegistryRoot)}) {
    auto acl = foreign->GetAcl(path);
    ASSERT_TRUE(acl.ok()) << acl.status();
    EXPECT_EQ(discovery::AclToString(acl->first), "world:anyone:cdr") << path;
  }
  auto cluster_acl = foreign->GetAcl(Layout("alice").ClusterPath());
  ASSERT_TRUE(cluster_acl.ok());
  EXPECT_THAT(discovery::AclToString(cluster_acl->first),
              HasSubstr("digest:alice:"));
  // Bob's cluster is unreadable without his digest; the open one is open.
  EXPECT_TRUE(absl::IsPermissionDenied(
      foreign->GetChildren(Layout("bob").ServersPath()).status()));
  EXPECT_TRUE(
      foreign->Delete(Layout("open").ServerPath((*open)->address())).ok());
  (*alice)->Shutdown();
  (*open)->Shutdown();
  (*bob)->Shutdown();
}

TEST_F(RegistryAclTest, ForeignOpenNamespaceNodeIsRepairedLoudly) {
  auto foreign = NewClient();
  ASSERT_NE(foreign, nullptr);
  const discovery::RegistryLayout layout = Layout();
  ASSERT_TRUE(foreign
                  ->Create(layout.NamespacePath(kEcho), "",
                           discovery::CreateMode::kPersistent,
                           /*create_parents=*/true)
                  .ok());
  Warnings warnings;
  auto server = Start(Options());
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT(warnings.All(),
              HasSubstr(absl::StrCat("repaired the ACL of ZooKeeper node ",
                                     layout.NamespacePath(kEcho),
                                     ": it was [world:anyone:cdrwa]")));
  EXPECT_THAT(warnings.All(), HasSubstr("fake publishers"));
  // The foreign client lost what the open node gave it.
  absl::Status fake = foreign
                          ->Create(layout.MemberPath(kEcho, "10.9.9.9:1"), "",
                                   discovery::CreateMode::kEphemeral)
                          .status();
  EXPECT_TRUE(absl::IsPermissionDenied(fake)) << fake;
  absl::Status deleted =
      foreign->Delete(layout.MemberPath(kEcho, (*server)->address()));
  EXPECT_TRUE(absl::IsPermissionDenied(deleted)) << deleted;
  (*server)->Shutdown();
}

TEST_F(RegistryAclTest, ClusterOfAnotherIdentityIsRefused) {
  auto bob = Start(Options(kBob));
  ASSERT_TRUE(bob.ok()) << bob.status();
  auto alice = Start(Options(kAlice));
  ASSERT_FALSE(alice.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(alice.status())) << alice.status();
  EXPECT_THAT(alice.status().message(), HasSubstr("another identity owns it"));
  EXPECT_THAT(alice.status().message(), HasSubstr(Layout().ClusterPath()));
  EXPECT_TRUE((*bob)->IsPublished(kEcho));
  (*bob)->Shutdown();
}

TEST_F(RegistryAclTest, OpenServerCannotJoinAProtectedCluster) {
  auto alice = Start(Options(kAlice));
  ASSERT_TRUE(alice.ok()) << alice.status();
  auto open = Start(Options(""));
  ASSERT_FALSE(open.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(open.status())) << open.status();
  EXPECT_THAT(open.status().message(), HasSubstr("ZNOAUTH"));
  EXPECT_TRUE((*alice)->IsPublished(kEcho));
  (*alice)->Shutdown();
}

TEST_F(RegistryAclTest, AdminIdentityMayChangeTheServersNodes) {
  // The admin's digest ACL id, as ZooKeeper computes it.
  auto admin = NewClient("ops:ops-secret", discovery::AclPolicy::kCreatorAll);
  ASSERT_NE(admin, nullptr);
  ASSERT_TRUE(admin->Create("/probe", "").ok());
  auto probe = admin->GetAcl("/probe");
  ASSERT_TRUE(probe.ok());
  ASSERT_EQ(probe->first.size(), 1u);
  const std::string admin_id = probe->first[0].id;
  ASSERT_TRUE(absl::StartsWith(admin_id, "ops:")) << admin_id;

  slacker::ClusterOptions options = Options();
  options.zookeeper_admin_id = admin_id;
  auto server = Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string path = Layout().NamespacePath(kEcho);
  EXPECT_TRUE(admin->Set(path, "").ok());
  auto foreign = NewClient(kBob);
  ASSERT_NE(foreign, nullptr);
  EXPECT_TRUE(absl::IsPermissionDenied(foreign->Set(path, "").status()));
  (*server)->Shutdown();
}

TEST_F(RegistryAclTest, ChannelWithTheDigestReadsACreatorOnlyCluster) {
  auto server =
      Start(Options(kAlice, "test", discovery::AclPolicy::kCreatorAll));
  ASSERT_TRUE(server.ok()) << server.status();
  auto foreign = NewClient();
  ASSERT_NE(foreign, nullptr);
  EXPECT_TRUE(absl::IsPermissionDenied(
      foreign->Get(Layout().ServerPath((*server)->address())).status()));

  ClusterChannelOptions with_digest;
  with_digest.zookeeper_digest = kAlice;
  auto channel = CreateClusterChannel(ConnectString(), "test", with_digest);
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = slacker::testing::EchoService::NewStub(*channel);
  slacker::testing::Ping request;
  request.set_text("protected");
  slacker::testing::Ping response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  context.set_wait_for_ready(true);
  grpc::Status status = stub->Echo(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.text(), "protected");

  // Without it the channel sees no server (bounded: the call's deadline).
  auto blind = CreateClusterChannel(ConnectString(), "test");
  ASSERT_TRUE(blind.ok());
  auto blind_stub = slacker::testing::EchoService::NewStub(*blind);
  grpc::ClientContext blind_context;
  blind_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
  EXPECT_FALSE(blind_stub->Echo(&blind_context, request, &response).ok());
  (*server)->Shutdown();
}

// What the open default lets any ZooKeeper client do (README.md,
// "Security"): add a publisher that takes a live client's calls, and move
// leadership by deleting the leader's candidate.
TEST_F(RegistryAclTest, OpenDefaultLetsAnyClientAddPublishersAndMoveLeaders) {
  auto first = Start(Options(""));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = Start(Options(""));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(Eventually([&] { return (*first)->IsLeader(kEcho); }));

  // A plain gRPC server, never registered by the framework.
  CountingEcho fake_echo;
  int fake_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &fake_port);
  builder.RegisterService(&fake_echo);
  std::unique_ptr<grpc::Server> fake = builder.BuildAndStart();
  ASSERT_NE(fake, nullptr);
  // Cluster servers turned gRPC's health service on for the whole process.
  if (fake->GetHealthCheckService() != nullptr) {
    fake->GetHealthCheckService()->SetServingStatus(kEcho, true);
  }
  const std::string fake_address = absl::StrCat("127.0.0.1:", fake_port);

  auto foreign = NewClient();
  ASSERT_NE(foreign, nullptr);
  cluster::ServerInfo info;
  info.set_address(fake_address);
  info.add_namespaces(kEcho);
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(info, &json).ok());
  const discovery::RegistryLayout layout = Layout();
  ASSERT_TRUE(foreign
                  ->Create(layout.ServerPath(fake_address), json,
                           discovery::CreateMode::kEphemeral)
                  .ok());
  ASSERT_TRUE(foreign
                  ->Create(layout.MemberPath(kEcho, fake_address), "",
                           discovery::CreateMode::kEphemeral)
                  .ok());

  auto channel = CreateClusterChannel(ConnectString(), "test");
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = slacker::testing::EchoService::NewStub(*channel);
  EXPECT_TRUE(Eventually([&] {
    slacker::testing::Ping request, response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    context.set_wait_for_ready(true);
    stub->Echo(&context, request, &response).ok();
    return fake_echo.calls.load() > 0;
  }));

  const std::string leader_candidate =
      CandidateOf(*foreign, (*first)->address());
  ASSERT_FALSE(leader_candidate.empty());
  ASSERT_TRUE(foreign->Delete(leader_candidate).ok());
  EXPECT_TRUE(Eventually([&] { return (*second)->IsLeader(kEcho); }));
  EXPECT_FALSE((*first)->IsLeader(kEcho));
  fake->Shutdown();
  (*first)->Shutdown();
  (*second)->Shutdown();
}

}  // namespace
}  // namespace slacker
