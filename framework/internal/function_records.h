// FunctionRecords: one namespace's method metadata records, kept by the
// server that writes them. The records are the persistent nodes
// functions/<ns>/<method> of discovery/registry_layout.h, holding MethodInfo
// JSON (protos/slacker/cluster/registry.proto); tools read them to call a
// method without its .proto.
//
// Start writes every record that differs from what is there (creating it, or
// overwriting it: the newest build of a server wins; a record already equal
// to this build's, byte for byte, is not written again, so restarting an
// unchanged server costs one read per record), then watches the namespace's
// records with a ChildrenCache and repairs what someone else did to them:
//   - a record deleted (alone, or with its parents) is written again;
//   - a record overwritten with data that is not a MethodInfo of that very
//     method (not JSON, another method's, a truncated write) is written again,
//     if unchanged since it was read (a conditional write: a server writing
//     at the same moment wins).
// A MethodInfo of the same method written by another server (another build of
// the namespace) is left as it is: servers of two builds would otherwise
// undo each other forever. Each repair is logged as a warning naming the
// record and the foreign change's version and mzxid.
//
// Thread-safe. Start and Close are synchronous: REQUIRES not called on the
// client's event thread (Start refuses it with FailedPrecondition; Close ends
// the process with a message, as ChildrenCache::Close). `client` is not owned
// and must outlive this object.

#ifndef SLACKER_FRAMEWORK_INTERNAL_FUNCTION_RECORDS_H_
#define SLACKER_FRAMEWORK_INTERNAL_FUNCTION_RECORDS_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "discovery/children_cache.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"

namespace slacker::internal {

class FunctionRecords {
 public:
  // Writes `records` (method name -> MethodInfo JSON) under
  // layout.FunctionsPath(ns) and starts keeping them. The status of the first
  // write that failed names the record; nothing is kept then.
  static absl::StatusOr<std::unique_ptr<FunctionRecords>> Start(
      discovery::ZooKeeperClient* client,
      const discovery::RegistryLayout& layout, std::string ns,
      std::map<std::string, std::string> records);

  // Close()s.
  ~FunctionRecords();
  FunctionRecords(const FunctionRecords&) = delete;
  FunctionRecords& operator=(const FunctionRecords&) = delete;

  // Stops repairing; the records stay in ZooKeeper. Idempotent.
  void Close();

 private:
  class Impl;
  explicit FunctionRecords(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_FUNCTION_RECORDS_H_
