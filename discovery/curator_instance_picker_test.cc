// CuratorInstancePicker: each strategy over a fixed list, and Curator's
// down-instance policy (N errors within the window skip an instance until the
// window from its first error has passed), driven by explicit times.

#include "discovery/curator_instance_picker.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker::discovery {
namespace {

using ::testing::ElementsAre;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

std::vector<CuratorInstance> Instances(std::vector<std::string> ids) {
  std::vector<CuratorInstance> instances;
  for (std::string& id : ids) {
    CuratorInstance instance;
    instance.name = "api";
    instance.id = std::move(id);
    instances.push_back(std::move(instance));
  }
  return instances;
}

std::vector<std::string> PickIds(CuratorInstancePicker& picker,
                                 const std::vector<CuratorInstance>& instances,
                                 int n, absl::Time now = kT0) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    std::optional<CuratorInstance> picked = picker.Pick(instances, now);
    ids.push_back(picked.has_value() ? picked->id : "-");
  }
  return ids;
}

TEST(CuratorInstancePickerTest, RoundRobinWalksTheList) {
  CuratorInstancePicker picker(CuratorProviderStrategy::kRoundRobin);
  EXPECT_THAT(PickIds(picker, Instances({"a", "b", "c"}), 7),
              ElementsAre("a", "b", "c", "a", "b", "c", "a"));
}

TEST(CuratorInstancePickerTest, RandomReachesEveryInstance) {
  CuratorInstancePicker picker(CuratorProviderStrategy::kRandom);
  std::map<std::string, int> counts;
  for (const std::string& id :
       PickIds(picker, Instances({"a", "b", "c"}), 3000)) {
    ++counts[id];
  }
  ASSERT_EQ(counts.size(), 3u);
  // 1000 expected each; 700 is more than 20 standard deviations below.
  for (const auto& [id, count] : counts) EXPECT_GT(count, 700) << id;
}

TEST(CuratorInstancePickerTest, StickyKeepsItsInstanceUntilItGoes) {
  CuratorInstancePicker picker(CuratorProviderStrategy::kSticky);
  std::vector<CuratorInstance> instances = Instances({"a", "b", "c"});
  std::vector<std::string> ids = PickIds(picker, instances, 20);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  const std::string first = ids[0];
  instances.erase(std::find_if(
      instances.begin(), instances.end(),
      [&](const CuratorInstance& instance) { return instance.id == first; }));
  ids = PickIds(picker, instances, 20);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_NE(ids[0], first);
}

TEST(CuratorInstancePickerTest, NothingToPickAndFilters) {
  CuratorInstancePicker picker;
  EXPECT_EQ(picker.Pick({}, kT0), std::nullopt);
  std::vector<CuratorInstance> instances = Instances({"a", "b"});
  instances[0].enabled = false;
  // As Curator's provider: "enabled" alone filters nothing; a filter can.
  EXPECT_THAT(PickIds(picker, instances, 2), ElementsAre("a", "b"));
  const CuratorInstancePicker::Filter enabled_only =
      [](const CuratorInstance& instance) { return instance.enabled; };
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(picker.Pick(instances, kT0, enabled_only)->id, "b");
  }
  EXPECT_EQ(
      picker.Pick(instances, kT0, [](const CuratorInstance&) { return false; }),
      std::nullopt);
}

TEST(CuratorInstancePickerTest, DownAfterThresholdErrorsBackAfterTimeout) {
  for (CuratorProviderStrategy strategy :
       {CuratorProviderStrategy::kRoundRobin, CuratorProviderStrategy::kRandom,
        CuratorProviderStrategy::kSticky}) {
    SCOPED_TRACE(CuratorProviderStrategyName(strategy));
    CuratorInstancePicker picker(strategy);  // Curator's defaults: 2, 30 s.
    const std::vector<CuratorInstance> instances = Instances({"a", "b"});
    picker.NoteError("a", kT0);
    EXPECT_FALSE(picker.IsDown("a", kT0));  // One error is below 2.
    picker.NoteError("a", kT0 + absl::Seconds(10));
    EXPECT_TRUE(picker.IsDown("a", kT0 + absl::Seconds(10)));
    for (const std::string& id :
         PickIds(picker, instances, 10, kT0 + absl::Seconds(29))) {
      EXPECT_EQ(id, "b");
    }
    // 30 s after the first error (not the second): forgotten.
    EXPECT_FALSE(picker.IsDown("a", kT0 + absl::Seconds(30)));
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
      // Sticky keeps "b"; make it go down too so "a" must be chosen.
      if (strategy == CuratorProviderStrategy::kSticky && i == 100) {
        picker.NoteError("b", kT0 + absl::Seconds(31));
        picker.NoteError("b", kT0 + absl::Seconds(31));
      }
      std::optional<CuratorInstance> picked =
          picker.Pick(instances, kT0 + absl::Seconds(31));
      ASSERT_TRUE(picked.has_value());
      seen.insert(picked->id);
    }
    EXPECT_TRUE(seen.count("a")) << "a never picked after its window";
  }
}

TEST(CuratorInstancePickerTest, AllDownIsNothingToPick) {
  CuratorDownInstancePolicy policy;
  policy.error_threshold = 1;
  policy.timeout = absl::Seconds(5);
  CuratorInstancePicker picker(CuratorProviderStrategy::kRoundRobin, policy);
  picker.NoteError("a", kT0);
  EXPECT_EQ(picker.Pick(Instances({"a"}), kT0 + absl::Seconds(4)),
            std::nullopt);
  EXPECT_TRUE(picker.Pick(Instances({"a"}), kT0 + absl::Seconds(5)));
}

}  // namespace
}  // namespace slacker::discovery
