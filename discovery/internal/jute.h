// Jute, ZooKeeper's wire encoding, for the requests and replies that
// ZooKeeperWireSession speaks (see zookeeper-jute's zookeeper.jute): integers
// big-endian, a string or buffer as an int length (-1 for null) then its
// bytes, a vector as an int count then its elements.
//
// JuteReader never trusts a length: each one is checked against the bytes
// left in the frame (and a caller's bound) before anything is allocated, so a
// hostile or broken server can make a read fail, never allocate more than the
// frame it sent or loop.
//
// Not thread-safe: one owner each.

#ifndef SLACKER_DISCOVERY_INTERNAL_JUTE_H_
#define SLACKER_DISCOVERY_INTERNAL_JUTE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "discovery/zookeeper_client.h"

namespace slacker::discovery::internal {

// Appends jute-encoded values to a byte string.
class JuteWriter {
 public:
  void Int(int32_t value);
  void Long(int64_t value);
  void Bool(bool value);
  // A ustring or a buffer: the length, then the bytes.
  void Bytes(absl::string_view bytes);
  void Strings(const std::vector<std::string>& strings);

  const std::string& bytes() const { return bytes_; }
  // The bytes with their 4-byte length in front: one frame on the socket.
  std::string Frame() const;

 private:
  std::string bytes_;
};

// Reads jute-encoded values from one frame. Every method returns
// InvalidArgument (what was read, at which offset, and why) when the frame is
// too short or a length is negative or past a bound; the reader is then
// unusable.
class JuteReader {
 public:
  explicit JuteReader(absl::string_view frame) : frame_(frame) {}

  absl::StatusOr<int32_t> Int(absl::string_view what);
  absl::StatusOr<int64_t> Long(absl::string_view what);
  absl::StatusOr<bool> Bool(absl::string_view what);
  // A ustring or buffer of at most `max_bytes` bytes; null (-1) reads as "".
  absl::StatusOr<std::string> Bytes(absl::string_view what, size_t max_bytes);
  // A vector<ustring> of at most `max_count` elements, each at most
  // `max_bytes` long. A null vector reads as empty.
  absl::StatusOr<std::vector<std::string>> Strings(absl::string_view what,
                                                   size_t max_count,
                                                   size_t max_bytes);
  absl::StatusOr<NodeStat> Stat();

  size_t remaining() const { return frame_.size() - offset_; }

 private:
  absl::Status Need(size_t bytes, absl::string_view what) const;

  absl::string_view frame_;
  size_t offset_ = 0;
};

}  // namespace slacker::discovery::internal

#endif  // SLACKER_DISCOVERY_INTERNAL_JUTE_H_
