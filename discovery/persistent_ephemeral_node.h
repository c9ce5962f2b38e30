// PersistentEphemeralNode: an ephemeral node that stays there, as Apache
// Curator's PersistentNode does. ZooKeeper deletes an ephemeral node when the
// session that made it ends, or when anyone deletes it; this recipe makes it
// again each time, with the latest data, until Close(). The cluster server
// registers itself with it.
//
//   PersistentEphemeralNodeOptions options;
//   options.on_created = [](const std::string& path) { /* listener thread */ };
//   absl::StatusOr<std::unique_ptr<PersistentEphemeralNode>> node =
//       PersistentEphemeralNode::Start(client,
//       "/slacker/cluster/c/servers/h:1",
//                                      R"({"version":1})", options);
//   if (!node.ok()) return node.status();  // Bad path or data.
//   absl::Status created = (*node)->WaitForInitialCreate(absl::Seconds(10));
//   (*node)->SetData(R"({"version":2})");   // Now, and on every re-creation.
//   (*node)->Close();                       // Gone now, not at session end.
//
// What it does, in order, until Close():
//   - creates the node (missing parents as persistent nodes) and watches it;
//   - makes it again when it is deleted, when the session expires
//     (kNewSession), and after any failed attempt: at once on kReconnected,
//     otherwise after a delay that doubles from min_retry_delay to
//     max_retry_delay (each delay shortened by up to a fifth, at random);
//   - writes SetData's data to the node if it exists, and creates it with the
//     latest data; a write that failed is retried like a create;
//   - with options.restore_data, writes its data back when another client
//     changed it.
//
// A node already at the path (non-sequential mode) is judged by its owner:
//   - owned by this client's current session (a create whose answer was lost):
//     it is this recipe's; adopted, and its data made the latest;
//   - an ephemeral node of another session holding exactly this recipe's data,
//     found before this recipe has ever held its node: a leftover of an
//     earlier run of the same program (restarted before its old session timed
//     out). It is replaced, in one transaction and only if unchanged since
//     read, by this session's node, which will not vanish with the old
//     session;
//   - anything else (other data, a persistent node, or a node that replaced the
//     one this recipe held): someone else's. It is neither changed nor
//     deleted; the recipe watches it and creates its own once it is gone,
//     at the latest when its owner's session ends. Meanwhile exists() is false
//     and WaitForInitialCreate's error names the owner.
// The "has never held" condition keeps two programs that claim the same path
// with the same data from taking it from each other forever: the newcomer
// takes it once, the other waits.
//
// Sequential mode (options.sequential): `path` is a prefix
// ("/election/n_"), ZooKeeper appends a 10-digit sequence, and each
// re-creation has a new path (actual_path()). When the answer to a create was
// lost, the recipe first looks among the parent's children for a node of its
// own session with that prefix and the data it sent, and adopts it rather than
// leave it behind.
//
// Threads: the recipe runs on the client's event thread, with asynchronous
// operations only; on_created runs on the client's listener thread. Every
// public method may be called from any thread, except as noted.
// Ownership: the caller owns the recipe; `client` is not owned and must
// outlive it. Two recipes of one client cannot hold the same path.

#ifndef SLACKER_DISCOVERY_PERSISTENT_EPHEMERAL_NODE_H_
#define SLACKER_DISCOVERY_PERSISTENT_EPHEMERAL_NODE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "discovery/zookeeper_client.h"

namespace slacker::discovery {

struct PersistentEphemeralNodeOptions {
  // false: an ephemeral node at exactly `path`. true: an ephemeral-sequential
  // node whose name starts with the last segment of `path`.
  bool sequential = false;

  // Also keep the node's data: watch the data, not only the node's existence,
  // and when another ZooKeeper client writes other data into the node, write
  // this recipe's data back, logging the foreign write's version and mzxid
  // (ZooKeeper does not record the writer; its transaction log at that zxid
  // names the session). Costs one read after each of the recipe's own writes.
  // Default false: another client's write stays until the next SetData or
  // re-creation.
  bool restore_data = false;

  // Delay before retrying after a failed operation; it doubles after each
  // failure, up to max_retry_delay, and starts again from min_retry_delay
  // after a success or a reconnection. Each delay is shortened by a random
  // fraction of up to 20% (common/backoff.h), so that many recipes that
  // failed together do not retry together. Both must be positive, min <= max.
  absl::Duration min_retry_delay = absl::Milliseconds(100);
  absl::Duration max_retry_delay = absl::Seconds(5);

  // Called on the client's listener thread each time this recipe's node
  // comes to exist (created, re-created or adopted), with its actual path.
  // Never called once Close() has returned (unless Close() was called on the
  // listener thread, when a call already queued is dropped). May be empty.
  std::function<void(const std::string& actual_path)> on_created;
};

// Thread-safe.
class PersistentEphemeralNode {
 public:
  // Starts keeping an ephemeral node at `path` holding `data`. Returns at once;
  // the node is created in the background (see WaitForInitialCreate).
  // InvalidArgument for a null client, an invalid path (or "/"), data over
  // ZooKeeperClient::kMaxDataBytes, or bad retry delays. AlreadyExists if
  // another recipe of this client already holds `path` (non-sequential).
  // FailedPrecondition if the client is closed.
  static absl::StatusOr<std::unique_ptr<PersistentEphemeralNode>> Start(
      ZooKeeperClient* client, std::string path, std::string data,
      PersistentEphemeralNodeOptions options = {});

  // Close()s; a failure to delete is logged. On the client's event thread,
  // where Close() cannot wait, it warns in the log, stops the recipe and
  // deletes the node without waiting.
  ~PersistentEphemeralNode();
  PersistentEphemeralNode(const PersistentEphemeralNode&) = delete;
  PersistentEphemeralNode& operator=(const PersistentEphemeralNode&) = delete;

  // Stops re-creating the node and deletes it now (a synchronous delete of the
  // node this recipe holds, checking that it is still this session's). Waits
  // for an operation in flight, so that no create can land after Close.
  // OK if the node is gone or was never made. If ZooKeeper cannot be reached
  // the error is returned and the node goes when the session ends.
  // Idempotent: later calls return OK.
  // FailedPrecondition if called on the client's event thread (it would
  // deadlock); the recipe is then left running.
  absl::Status Close();

  // Makes `data` the node's data: written now if the node exists (in the
  // background; retried until it succeeds) and used by every re-creation.
  // Returns once recorded. InvalidArgument if over kMaxDataBytes (the data is
  // then unchanged); FailedPrecondition after Close().
  absl::Status SetData(std::string data);

  // Waits until the node has been created at least once (it may be gone again
  // since: see exists()). OK once created; PermissionDenied as soon as an
  // attempt is refused by the parent's ACL (the recipe keeps trying in the
  // background); DeadlineExceeded after `timeout`, naming the last error or
  // the node's other owner; FailedPrecondition if
  // closed meanwhile or called on the client's event thread; Cancelled if the
  // client closed.
  absl::Status WaitForInitialCreate(absl::Duration timeout);

  // Whether the node exists as this recipe's, as far as it knows: true from
  // its creation until the recipe learns it is gone (deleted, session expired)
  // or Close(). Stays true while merely disconnected.
  bool exists() const;

  // The owner of someone else's node at the path that the recipe waits to go
  // (a session id; 0 for a persistent node), as last read; nullopt while the
  // recipe holds its node or has found no such node. For a caller that wants
  // to say who holds the path.
  std::optional<int64_t> foreign_owner() const;

  // The node's path as last created: `path` itself, or in sequential mode the
  // path with its sequence. Empty until the first creation.
  std::string actual_path() const;

  // The path given to Start (the prefix, in sequential mode).
  const std::string& path() const;

  // The data last set (by Start or SetData).
  std::string data() const;

 private:
  class Impl;
  explicit PersistentEphemeralNode(std::shared_ptr<Impl> impl);

  // Shared with the callbacks in flight on the client's threads, which hold it
  // weakly: it outlives this object only while one of them runs.
  std::shared_ptr<Impl> impl_;
};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_PERSISTENT_EPHEMERAL_NODE_H_
