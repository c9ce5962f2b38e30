#include "framework/internal/namespace_picker.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "framework/internal/plugin_names.h"
#include "gtest/gtest.h"

namespace slacker::internal {
namespace {

using Kind = PickDecision::Kind;

NamedGrouping Named(const std::string& text) {
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return NamedGrouping{text, *spec};
}

Candidate Server(const std::string& address, bool leader = false) {
  Candidate candidate;
  candidate.address = address;
  candidate.leader = leader;
  return candidate;
}

class NamespacePickerTest : public ::testing::Test {
 protected:
  NamespacePickerTest() {
    options_.cluster = "test";
    options_.namespaces_path = "/slacker/cluster/test/namespaces";
    options_.grouping = Named("first");
    options_.methods["pkg.Svc/Lead"] = Named("leader");
  }

  void Add(const std::string& ns, std::vector<Candidate> candidates,
           int connecting = 0) {
    auto entry = std::make_shared<NamespaceChoices>();
    entry->publishers = static_cast<int>(candidates.size()) + connecting;
    entry->connecting = connecting;
    entry->candidates = std::move(candidates);
    choices_[ns] = std::move(entry);
  }

  PickDecision Pick(absl::string_view path,
                    std::optional<absl::string_view> grouping = std::nullopt,
                    std::optional<absl::string_view> hash = std::nullopt) {
    return PickForCall(options_, choices_, path, grouping, hash);
  }

  std::string Picked(const PickDecision& decision) {
    EXPECT_EQ(decision.kind, Kind::kComplete) << decision.status;
    if (decision.kind != Kind::kComplete) return "";
    return decision.choices->candidates[decision.index].address;
  }

  ClusterLbOptions options_;
  ChoicesByNamespace choices_;
};

TEST_F(NamespacePickerTest, PicksWithTheGroupingInForce) {
  Add("pkg.Svc", {Server("a:1"), Server("b:1", /*leader=*/true)});
  PrepareConfiguredPickers(options_, {}, choices_);
  EXPECT_EQ(Picked(Pick("/pkg.Svc/Any")), "a:1");         // Channel default.
  EXPECT_EQ(Picked(Pick("/pkg.Svc/Lead")), "b:1");        // Per method.
  EXPECT_EQ(Picked(Pick("/pkg.Svc/Any", "b:1")), "b:1");  // Per call.
  EXPECT_EQ(Picked(Pick("/pkg.Svc/Lead", "first")), "a:1");
}

TEST_F(NamespacePickerTest, PerServiceGrouping) {
  options_.methods["pkg.Svc"] = Named("leader");
  Add("pkg.Svc", {Server("a:1"), Server("b:1", /*leader=*/true)});
  PrepareConfiguredPickers(options_, {}, choices_);
  EXPECT_EQ(Picked(Pick("/pkg.Svc/Any")), "b:1");
}

TEST_F(NamespacePickerTest, UnknownNamespaceFailsSayingWhere) {
  Add("pkg.Svc", {Server("a:1")});
  PrepareConfiguredPickers(options_, {}, choices_);
  PickDecision decision = Pick("/other.Svc/M");
  EXPECT_EQ(decision.kind, Kind::kFail);
  EXPECT_TRUE(absl::IsUnavailable(decision.status));
  EXPECT_NE(decision.status.message().find(
                "/slacker/cluster/test/namespaces/other.Svc"),
            std::string::npos)
      << decision.status;
}

// Servers of a channel over Curator services or ServerSets serve any
// namespace; one published by name still goes to its own servers.
TEST_F(NamespacePickerTest, AnyNamespaceServesWhatNoServerNames) {
  Add(kAnyNamespace, {Server("any:1")});
  Add("pkg.Svc", {Server("named:1")});
  PrepareConfiguredPickers(options_, {}, choices_);
  EXPECT_EQ(Picked(Pick("/other.Svc/M")), "any:1");
  EXPECT_EQ(Picked(Pick("/pkg.Svc/M")), "named:1");
}

TEST_F(NamespacePickerTest, NoAnnouncedServerFailsNamingThePath) {
  options_.announced_path = "/services/api (Curator service instances)";
  PrepareConfiguredPickers(options_, {}, choices_);
  PickDecision decision = Pick("/other.Svc/M");
  EXPECT_EQ(decision.kind, Kind::kFail);
  EXPECT_TRUE(absl::IsUnavailable(decision.status));
  EXPECT_NE(decision.status.message().find("/services/api (Curator"),
            std::string::npos)
      << decision.status;
}

TEST_F(NamespacePickerTest, NoReadyServerQueuesWhileConnectingElseFails) {
  Add("pkg.Svc", {}, /*connecting=*/1);
  Add("pkg.Down", {});
  choices_["pkg.Down"]->publishers = 2;
  choices_["pkg.Down"]->last_error = "connection refused";
  PrepareConfiguredPickers(options_, {}, choices_);
  EXPECT_EQ(Pick("/pkg.Svc/M").kind, Kind::kQueue);
  PickDecision down = Pick("/pkg.Down/M");
  EXPECT_EQ(down.kind, Kind::kFail);
  EXPECT_EQ(down.status.message(),
            "none of the 2 server(s) of cluster 'test' publishing 'pkg.Down' "
            "is reachable (last error: connection refused)");
}

TEST_F(NamespacePickerTest, GroupingThatFindsNoneQueuesOrFails) {
  Add("pkg.Svc", {Server("a:1")});
  Add("pkg.Wait", {Server("a:1")}, /*connecting=*/1);
  PrepareConfiguredPickers(options_, {}, choices_);
  EXPECT_EQ(Pick("/pkg.Svc/Lead").kind, Kind::kFail);  // No leader.
  EXPECT_EQ(Pick("/pkg.Wait/M", "leader").kind, Kind::kQueue);
}

TEST_F(NamespacePickerTest, BadCallGroupingOrMissingHashKeyIsDropped) {
  Add("pkg.Svc", {Server("a:1"), Server("b:1")});
  PrepareConfiguredPickers(options_, {}, choices_);
  PickDecision bad = Pick("/pkg.Svc/M", "no such grouping");
  EXPECT_EQ(bad.kind, Kind::kDrop);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status)) << bad.status;
  EXPECT_EQ(Pick("/pkg.Svc/M", "hash").kind, Kind::kDrop);
  PickDecision hashed = Pick("/pkg.Svc/M", "hash", "customer-7");
  EXPECT_EQ(Picked(hashed), Picked(Pick("/pkg.Svc/M", "hash", "customer-7")));
}

// `all` is the interceptor's: a call that reaches the picker with it came on
// a channel without one, and is told so, as UNAVAILABLE (gRPC would turn an
// INVALID_ARGUMENT drop into INTERNAL).
TEST_F(NamespacePickerTest, AllWithoutTheInterceptorIsDroppedSayingWhatToDo) {
  Add("pkg.Svc", {Server("a:1"), Server("b:1")});
  PrepareConfiguredPickers(options_, {}, choices_);
  PickDecision all = Pick("/pkg.Svc/M", "all");
  EXPECT_EQ(all.kind, Kind::kDrop);
  EXPECT_TRUE(absl::IsUnavailable(all.status)) << all.status;
  EXPECT_TRUE(absl::StrContains(all.status.message(),
                                "slacker::InstallClusterInterceptor"))
      << all.status;
}

TEST_F(NamespacePickerTest, PickersContinueThePreviousOnes) {
  options_.grouping = Named("round_robin");
  Add("pkg.Svc", {Server("a:1"), Server("b:1"), Server("c:1")});
  PrepareConfiguredPickers(options_, {}, choices_);
  const std::string first = Picked(Pick("/pkg.Svc/M"));
  const std::string second = Picked(Pick("/pkg.Svc/M"));
  ChoicesByNamespace previous = choices_;
  choices_.clear();
  Add("pkg.Svc", {Server("a:1"), Server("b:1"), Server("c:1")});
  PrepareConfiguredPickers(options_, previous, choices_);
  const std::string third = Picked(Pick("/pkg.Svc/M"));
  EXPECT_NE(third, first);
  EXPECT_NE(third, second);
}

}  // namespace
}  // namespace slacker::internal
