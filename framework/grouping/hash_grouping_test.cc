#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/grouping_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker {
namespace {

using grouping_testing::Addresses;
using grouping_testing::GroupingNamed;
using grouping_testing::MakeCandidates;
using ::testing::ElementsAre;

constexpr int kKeys = 10000;

// The address each of kKeys keys goes to among `addresses`.
std::vector<std::string> MapKeys(const std::vector<std::string>& addresses) {
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("hash").Prepare(MakeCandidates(addresses), nullptr);
  std::vector<std::string> mapped;
  for (int key = 0; key < kKeys; ++key) {
    std::string hash_key = absl::StrCat("user-", key);
    CallInfo call;
    call.hash_key = hash_key;
    absl::StatusOr<size_t> index = picker->Pick(call);
    EXPECT_TRUE(index.ok()) << index.status();
    mapped.push_back(index.ok() ? addresses[*index] : "");
  }
  return mapped;
}

TEST(HashGroupingTest, AKeyAlwaysGoesToTheSameServer) {
  std::vector<std::string> first = MapKeys(Addresses(5));
  EXPECT_EQ(MapKeys(Addresses(5)), first);
}

TEST(HashGroupingTest, KeysSpreadOverEveryServer) {
  std::vector<std::string> addresses = Addresses(5);
  std::vector<std::string> mapped = MapKeys(addresses);
  for (const std::string& address : addresses) {
    int64_t keys = std::count(mapped.begin(), mapped.end(), address);
    EXPECT_GT(keys, kKeys / 5 / 2) << address;
    EXPECT_LT(keys, kKeys / 5 * 2) << address;
  }
}

TEST(HashGroupingTest, AJoiningServerTakesAboutItsShareFromTheOthers) {
  std::vector<std::string> before = MapKeys(Addresses(5));
  std::vector<std::string> grown = Addresses(6);
  std::vector<std::string> after = MapKeys(grown);
  int moved = 0;
  for (int key = 0; key < kKeys; ++key) {
    if (after[key] == before[key]) continue;
    ++moved;
    EXPECT_EQ(after[key], grown[5]) << "key " << key;
  }
  EXPECT_GT(moved, kKeys * 0.5 / 6);
  EXPECT_LT(moved, kKeys * 2.0 / 6);
}

TEST(HashGroupingTest, ALeavingServerMovesOnlyItsOwnKeys) {
  std::vector<std::string> addresses = Addresses(5);
  std::vector<std::string> before = MapKeys(addresses);
  std::string gone = addresses[2];
  addresses.erase(addresses.begin() + 2);
  std::vector<std::string> after = MapKeys(addresses);
  for (int key = 0; key < kKeys; ++key) {
    if (before[key] != gone) {
      EXPECT_EQ(after[key], before[key]) << "key " << key;
    }
  }
}

TEST(HashGroupingTest, TheMappingDoesNotDependOnTheCandidatesOrder) {
  std::vector<std::string> addresses = Addresses(5);
  std::vector<std::string> reversed(addresses.rbegin(), addresses.rend());
  EXPECT_EQ(MapKeys(reversed), MapKeys(addresses));
}

// Every client, whatever its build, must map a key alike. These values were
// computed by an independent implementation of the ring (FNV-1a 64, then the
// splitmix64 finalizer; points "<address>#<i>") and must never change.
TEST(HashGroupingTest, TheMappingIsFixedAcrossBuilds) {
  std::vector<std::string> mapped = MapKeys(Addresses(5));
  EXPECT_THAT(std::vector<std::string>(mapped.begin(), mapped.begin() + 6),
              ElementsAre("10.0.0.0:8080", "10.0.0.3:8080", "10.0.0.2:8080",
                          "10.0.0.3:8080", "10.0.0.4:8080", "10.0.0.3:8080"));
  std::vector<int64_t> keys_per_server;
  for (const std::string& address : Addresses(5)) {
    keys_per_server.push_back(
        std::count(mapped.begin(), mapped.end(), address));
  }
  EXPECT_THAT(keys_per_server, ElementsAre(1725, 2197, 1879, 1854, 2345));
}

TEST(HashGroupingTest, ACallWithoutAKeyIsInvalid) {
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("hash").Prepare(MakeCandidates(Addresses(3)), nullptr);
  absl::StatusOr<size_t> index = picker->Pick(CallInfo{});
  EXPECT_EQ(index.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.status().message(),
            "grouping hash needs a per-call key (slacker::SetHashKey)");
}

}  // namespace
}  // namespace slacker
