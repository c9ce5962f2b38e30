// CuratorServiceInstance: this process registered as one instance of a service
// in Apache Curator's service-discovery format (curator-x-discovery), so that
// JVM programs using Curator's ServiceDiscovery find it, next to (not instead
// of) the Slacker layout (see README.md, "The cluster's ZooKeeper layout").
//
// Curator keeps one ephemeral node per instance,
//
//   <base_path>/<service_name>/<id>
//
// holding the JSON that Curator's JsonInstanceSerializer writes for a
// ServiceInstance<Map> of type DYNAMIC (field order as Curator's):
//
//   {"name":"api","id":"10.0.0.7:50051","address":"10.0.0.7","port":50051,
//    "sslPort":null,"payload":{"@class":"java.util.LinkedHashMap","zone":"a"},
//    "registrationTimeUTC":1700000000000,"serviceType":"DYNAMIC",
//    "uriSpec":null}
//
// (uriSpec, when given, is Curator's {"parts":[...]} form; a payload may be
// any JSON value, see payload_json.) The reader's side is
// curator_service_discovery.h.
//
// The Java side reads a Map payload with the payload class Map (or Object):
//
//   ServiceDiscovery<Map> discovery =
//   ServiceDiscoveryBuilder.builder(Map.class)
//       .client(curator).basePath("/services").build();
//   discovery.start();
//   discovery.queryForInstances("api");  // getPayload() is a Map.
//
// "@class" is the type id Jackson writes for the payload (Curator annotates it
// with @JsonTypeInfo(use = CLASS)); it is written so the node is byte for byte
// what Curator itself would write. A Java reader whose payload class does not
// fit the payload (Map for a string payload) fails with a
// ClassCastException: all instances of a service should carry payloads of
// one kind, and a reader of mixed kinds declares Object.
//
// The node is kept by a PersistentEphemeralNode: it comes back, with the same
// JSON, after a session expiry or a deletion, as Curator's ServiceDiscovery
// re-registers its instances. Missing parents are made as persistent nodes
// (Curator makes container nodes; either way Curator reads them the same).
//
//   CuratorServiceInstanceOptions options;
//   options.service_name = "api";
//   options.address = "10.0.0.7";
//   options.port = 50051;
//   options.payload_json = R"({"zone":"a"})";
//   absl::StatusOr<std::unique_ptr<CuratorServiceInstance>> instance =
//       CuratorServiceInstance::Start(client, options);
//   if (!instance.ok()) return instance.status();  // Bad option.
//   absl::Status registered =
//   (*instance)->WaitForRegistration(absl::Seconds(10));
//   (*instance)->SetPayload(R"({"zone":"b"})");  // Java readers see it.
//   (*instance)->Close();                        // Gone now.
//
// Threads: every public method may be called from any thread, except as noted
// (those that wait must not run on the client's event thread).
// Ownership: the caller owns the instance; `client` is not owned and must
// outlive it.

#ifndef SLACKER_DISCOVERY_CURATOR_SERVICE_INSTANCE_H_
#define SLACKER_DISCOVERY_CURATOR_SERVICE_INSTANCE_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "discovery/persistent_ephemeral_node.h"
#include "discovery/zookeeper_client.h"

namespace slacker::discovery {

struct CuratorServiceInstanceOptions {
  // The parent of every service: what the Java side passes to
  // ServiceDiscoveryBuilder.basePath(), which has no default in Curator.
  // "/services" is the one Spring Cloud Zookeeper uses. A valid path.
  std::string base_path = "/services";

  // ServiceInstance.name, the name Java queries for. Required; a valid node
  // name in valid UTF-8.
  std::string service_name;

  // ServiceInstance.id, the node's name: unique within the service. Empty
  // means "<address>:<port>" ("[<address>]:<port>" for an IPv6 address): one
  // node per endpoint, the same after a restart, so a restarted server
  // replaces its old node rather than being listed twice until the old
  // session ends. RandomId() gives Curator's own default, a random UUID.
  // Otherwise a valid node name in valid UTF-8.
  std::string id;

  // ServiceInstance.address: the host name or IP address JVM clients connect
  // to; printable ASCII without spaces. Empty means detected, as Curator's
  // ServiceInstanceBuilder does: the first of LocalAddresses().
  std::string address;

  // ServiceInstance.port. Required: 1 to 65535.
  int port = 0;

  // ServiceInstance.sslPort: absent (null) or 1 to 65535.
  std::optional<int> ssl_port;

  // ServiceInstance.payload: empty for null, or one JSON value (RFC 8259,
  // valid UTF-8, nested at most 100 levels), at most kMaxPayloadBytes,
  // written as Jackson writes a payload of the matching Java type:
  //   {"zone":"a"}   a Map: {"@class":"java.util.LinkedHashMap","zone":"a"}
  //                  (members verbatim; no "@class" member of its own)
  //   "text"         a String, as itself (as Jackson escapes it)
  //   42, 1.5, true  an Integer, a Double, a Boolean, as themselves
  //   5000000000     a Long: ["java.lang.Long",5000000000] (a BigInteger
  //                  past 64 bits); the digits are kept, never rounded
  //   [1,2]          a List: ["java.util.ArrayList",[1,2]]
  // A JVM reader declares the payload class Object, or the one class its
  // services use (Map for objects, String for strings).
  std::string payload_json;

  // ServiceInstance.uriSpec as Curator's UriSpec template, e.g.
  // "{scheme}://{address}:{port}" (see CuratorUriSpec); empty for null.
  std::string uri_spec;

  // Delays between attempts to re-create the node, as in
  // PersistentEphemeralNodeOptions.
  absl::Duration min_retry_delay = absl::Milliseconds(100);
  absl::Duration max_retry_delay = absl::Seconds(5);
};

// Thread-safe.
class CuratorServiceInstance {
 public:
  // Payloads above this are refused: a registration is read by every client
  // of the service on every change, and should stay small.
  static constexpr size_t kMaxPayloadBytes = 64 * 1024;

  // Starts keeping the instance's node, registered at absl::Now(). Returns at
  // once; the node is made in the background (see WaitForRegistration).
  // InvalidArgument, naming the option, for a null client or an invalid
  // option; AlreadyExists if another recipe of this client holds the path;
  // FailedPrecondition if the client is closed.
  static absl::StatusOr<std::unique_ptr<CuratorServiceInstance>> Start(
      ZooKeeperClient* client, CuratorServiceInstanceOptions options);

  // The JSON Start writes for `options` registered at `registration_time`
  // (UTC, written in milliseconds since the epoch). Same errors as Start's
  // option checks.
  static absl::StatusOr<std::string> ToJson(
      const CuratorServiceInstanceOptions& options,
      absl::Time registration_time);

  // The node's path for `options` (with the default id resolved). Does not
  // validate.
  static std::string PathFor(const CuratorServiceInstanceOptions& options);

  // This host's IP addresses as Curator's ServiceInstanceBuilder lists them
  // (getAllLocalIPs): every interface's, without loopback ones, and without
  // link-local ones except on point-to-point links; IPv4 first (Curator takes
  // the JVM's interface order, which may put IPv6 first), IPv6 without a
  // scope. Empty if there is none. Thread-safe.
  static std::vector<std::string> LocalAddresses();

  // A random (version 4) UUID in Curator's form,
  // "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b": what Curator's
  // ServiceInstance.builder() takes as the id.
  static std::string RandomId();

  // Close()s; a failure to delete is logged.
  // REQUIRES: not called on the client's event thread.
  ~CuratorServiceInstance();
  CuratorServiceInstance(const CuratorServiceInstance&) = delete;
  CuratorServiceInstance& operator=(const CuratorServiceInstance&) = delete;

  // Unregisters: stops re-creating the node and deletes it now, as Curator's
  // unregisterService does. OK if it is gone; if ZooKeeper cannot be reached
  // the error is returned and the node goes when the session ends.
  // Idempotent. FailedPrecondition on the client's event thread.
  absl::Status Close();

  // Replaces the payload (same rules as options.payload_json): written now
  // if the node exists, and kept for every re-creation. The registration time
  // is unchanged, as with Curator's updateService. InvalidArgument for a bad
  // payload (the old one stays); FailedPrecondition after Close().
  absl::Status SetPayload(std::string payload_json);

  // Waits until the node has been made at least once. OK once made;
  // DeadlineExceeded after `timeout`, with the reason (the last error, or
  // the session that holds another node at this path); FailedPrecondition if
  // closed or called on the client's event thread; Cancelled if the client
  // closed.
  absl::Status WaitForRegistration(absl::Duration timeout);

  // Whether the node exists as far as this recipe knows (see
  // PersistentEphemeralNode::exists()).
  bool registered() const;

  // "<base_path>/<service_name>/<id>".
  const std::string& path() const { return path_; }
  // The id in use (options.id, or the default derived from the address).
  const std::string& id() const { return id_; }
  absl::Time registration_time() const { return registration_time_; }
  // The JSON last written (or to be written).
  std::string json() const;

 private:
  CuratorServiceInstance(CuratorServiceInstanceOptions options,
                         absl::Time registration_time, std::string path,
                         std::unique_ptr<PersistentEphemeralNode> node);

  const std::string id_;
  const std::string path_;
  const absl::Time registration_time_;
  const std::unique_ptr<PersistentEphemeralNode> node_;

  // Serializes SetPayload calls, so that the node ends with the last one's.
  mutable std::mutex mu_;
  CuratorServiceInstanceOptions options_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_CURATOR_SERVICE_INSTANCE_H_
