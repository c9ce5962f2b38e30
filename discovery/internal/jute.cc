#include "discovery/internal/jute.h"

#include "absl/strings/str_cat.h"

namespace slacker::discovery::internal {

void JuteWriter::Int(int32_t value) {
  const uint32_t v = static_cast<uint32_t>(value);
  for (int shift = 24; shift >= 0; shift -= 8) {
    bytes_.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

void JuteWriter::Long(int64_t value) {
  const uint64_t v = static_cast<uint64_t>(value);
  for (int shift = 56; shift >= 0; shift -= 8) {
    bytes_.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

void JuteWriter::Bool(bool value) { bytes_.push_back(value ? 1 : 0); }

void JuteWriter::Bytes(absl::string_view bytes) {
  Int(static_cast<int32_t>(bytes.size()));
  bytes_.append(bytes.data(), bytes.size());
}

void JuteWriter::Strings(const std::vector<std::string>& strings) {
  Int(static_cast<int32_t>(strings.size()));
  for (const std::string& s : strings) Bytes(s);
}

std::string JuteWriter::Frame() const {
  JuteWriter framed;
  framed.Int(static_cast<int32_t>(bytes_.size()));
  framed.bytes_.append(bytes_);
  return std::move(framed.bytes_);
}

absl::Status JuteReader::Need(size_t bytes, absl::string_view what) const {
  if (bytes <= remaining()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("ZooKeeper reply ends early: ", what, " at byte ", offset_,
                   " needs ", bytes, " bytes, ", remaining(), " left"));
}

absl::StatusOr<int32_t> JuteReader::Int(absl::string_view what) {
  if (absl::Status s = Need(4, what); !s.ok()) return s;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v = (v << 8) | static_cast<uint8_t>(frame_[offset_ + i]);
  }
  offset_ += 4;
  return static_cast<int32_t>(v);
}

absl::StatusOr<int64_t> JuteReader::Long(absl::string_view what) {
  if (absl::Status s = Need(8, what); !s.ok()) return s;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | static_cast<uint8_t>(frame_[offset_ + i]);
  }
  offset_ += 8;
  return static_cast<int64_t>(v);
}

absl::StatusOr<bool> JuteReader::Bool(absl::string_view what) {
  if (absl::Status s = Need(1, what); !s.ok()) return s;
  return frame_[offset_++] != 0;
}

absl::StatusOr<std::string> JuteReader::Bytes(absl::string_view what,
                                              size_t max_bytes) {
  absl::StatusOr<int32_t> length = Int(what);
  if (!length.ok()) return length.status();
  if (*length == -1) return std::string();
  if (*length < 0 || static_cast<size_t>(*length) > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("ZooKeeper reply has ", what, " of length ", *length,
                     " at byte ", offset_ - 4, "; the bound is ", max_bytes));
  }
  if (absl::Status s = Need(*length, what); !s.ok()) return s;
  std::string bytes(frame_.substr(offset_, *length));
  offset_ += *length;
  return bytes;
}

absl::StatusOr<std::vector<std::string>> JuteReader::Strings(
    absl::string_view what, size_t max_count, size_t max_bytes) {
  absl::StatusOr<int32_t> count = Int(what);
  if (!count.ok()) return count.status();
  if (*count == -1) return std::vector<std::string>();
  // Each element takes at least its 4-byte length: a count the frame cannot
  // hold is refused before anything is reserved.
  if (*count < 0 || static_cast<size_t>(*count) > max_count ||
      static_cast<size_t>(*count) > remaining() / 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ZooKeeper reply has ", what, " with ", *count, " elements at byte ",
        offset_ - 4, "; the bound is ", max_count, " and ", remaining() / 4,
        " fit in the bytes left"));
  }
  std::vector<std::string> strings;
  strings.reserve(*count);
  for (int32_t i = 0; i < *count; ++i) {
    absl::StatusOr<std::string> s = Bytes(what, max_bytes);
    if (!s.ok()) return s.status();
    strings.push_back(*std::move(s));
  }
  return strings;
}

absl::StatusOr<NodeStat> JuteReader::Stat() {
  NodeStat stat;
  // The fields in Stat's order (zookeeper.jute, org.apache.zookeeper.data).
  if (absl::Status s = Need(68, "Stat"); !s.ok()) return s;
  stat.czxid = *Long("czxid");
  stat.mzxid = *Long("mzxid");
  stat.ctime_ms = *Long("ctime");
  stat.mtime_ms = *Long("mtime");
  stat.version = *Int("version");
  stat.cversion = *Int("cversion");
  stat.aversion = *Int("aversion");
  stat.ephemeral_owner = *Long("ephemeralOwner");
  stat.data_length = *Int("dataLength");
  stat.num_children = *Int("numChildren");
  stat.pzxid = *Long("pzxid");
  return stat;
}

}  // namespace slacker::discovery::internal
