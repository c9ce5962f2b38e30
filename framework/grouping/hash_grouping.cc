// hash: consistent hashing on the call's hash key, so that calls with one key
// go to one server (e.g. the one caching that key's data) for as long as it
// stays, and a server joining or leaving moves only about 1/N of the keys.
//
// Each server owns kPointsPerServer points on a ring of 64-bit positions; a
// key goes to the first point at or after its own position. Positions come
// from a hash fixed here (FNV-1a, then the splitmix64 finalizer to spread
// FNV's weak high bits), never from absl::Hash or std::hash, which differ
// between processes and builds: every client must map a key alike.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/internal/builtin_groupings.h"

namespace slacker::internal {
namespace {

constexpr int kPointsPerServer = 160;

uint64_t Fnv1a64(absl::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325u;
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3u;
  }
  return hash;
}

uint64_t SplitMix64Finalize(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

uint64_t RingPosition(absl::string_view bytes) {
  return SplitMix64Finalize(Fnv1a64(bytes));
}

struct Point {
  uint64_t position;
  size_t index;  // Into the candidates.
};

class HashPicker : public GroupingPicker {
 public:
  // REQUIRES: ring is not empty and sorted by position.
  explicit HashPicker(std::vector<Point> ring) : ring_(std::move(ring)) {}

  absl::StatusOr<size_t> Pick(const CallInfo& call) override {
    if (call.hash_key.empty()) {
      return absl::InvalidArgumentError(
          "grouping hash needs a per-call key (slacker::SetHashKey)");
    }
    uint64_t position = RingPosition(call.hash_key);
    auto it = std::lower_bound(
        ring_.begin(), ring_.end(), position,
        [](const Point& point, uint64_t p) { return point.position < p; });
    return it == ring_.end() ? ring_.front().index : it->index;
  }

 private:
  const std::vector<Point> ring_;
};

class HashGrouping : public Grouping {
 public:
  absl::string_view name() const override { return "hash"; }

  std::unique_ptr<GroupingPicker> Prepare(
      std::vector<Candidate> candidates,
      const GroupingPicker* previous) const override {
    std::vector<Point> ring;
    ring.reserve(candidates.size() * kPointsPerServer);
    for (size_t i = 0; i < candidates.size(); ++i) {
      for (int point = 0; point < kPointsPerServer; ++point) {
        ring.push_back(
            {RingPosition(absl::StrCat(candidates[i].address, "#", point)), i});
      }
    }
    // Two servers' points may collide; ordering them by address makes the
    // winner the same in every client whatever the candidates' order.
    std::sort(ring.begin(), ring.end(), [&](const Point& a, const Point& b) {
      return std::tie(a.position, candidates[a.index].address) <
             std::tie(b.position, candidates[b.index].address);
    });
    return std::make_unique<HashPicker>(std::move(ring));
  }
};

}  // namespace

std::unique_ptr<Grouping> NewHashGrouping() {
  return std::make_unique<HashGrouping>();
}

}  // namespace slacker::internal
