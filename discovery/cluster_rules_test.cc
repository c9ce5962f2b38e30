#include "discovery/cluster_rules.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace slacker::discovery {
namespace {

constexpr char kUuid[] = "0f8e3c1a-94b2-4d6e-8a7b-123456789abc";

std::string Candidate(int64_t sequence) {
  std::string digits = std::to_string(sequence);
  return std::string("_c_") + kUuid + "-latch-" +
         std::string(10 - digits.size(), '0') + digits;
}

TEST(ClusterRulesTest, HostPort) {
  EXPECT_TRUE(IsHostPort("127.0.0.1:80"));
  EXPECT_TRUE(IsHostPort("[::1]:65535"));
  EXPECT_FALSE(IsHostPort("not-a-host"));
  EXPECT_FALSE(IsHostPort("127.0.0.1:0"));
  EXPECT_FALSE(IsHostPort("127.0.0.1:65536"));
  EXPECT_FALSE(IsHostPort(":80"));
  EXPECT_FALSE(IsHostPort("::1:80"));
  EXPECT_FALSE(IsHostPort("bogus17"));
}

TEST(ClusterRulesTest, PublisherCountsOnlyWithItsOwnServerNode) {
  EXPECT_EQ(JudgePublisher("127.0.0.1:80", 7, 7), PublisherVerdict::kCounts);
  EXPECT_EQ(JudgePublisher("not-a-host", 7, 7), PublisherVerdict::kNotHostPort);
  EXPECT_EQ(JudgePublisher("127.0.0.1:0", 7, 7),
            PublisherVerdict::kNotHostPort);
  EXPECT_EQ(JudgePublisher("127.0.0.1:80", 0, 0),
            PublisherVerdict::kNotEphemeral);
  EXPECT_EQ(JudgePublisher("127.0.0.1:80", 7, std::nullopt),
            PublisherVerdict::kNoServerNode);
  EXPECT_EQ(JudgePublisher("127.0.0.1:80", 7, 8),
            PublisherVerdict::kOtherSession);
  EXPECT_EQ(PublisherVerdictReason(PublisherVerdict::kCounts, 7, 7), "");
  const std::string reason =
      PublisherVerdictReason(PublisherVerdict::kOtherSession, 0x1f, 0x2a);
  EXPECT_TRUE(absl::StrContains(reason, "session 0x2a")) << reason;
  EXPECT_TRUE(absl::StrContains(reason, "session 0x1f")) << reason;
}

TEST(ClusterRulesTest, CandidateNames) {
  EXPECT_EQ(CandidateSequence(Candidate(42)), 42);
  EXPECT_EQ(CandidateSequence("evil0000000000"), std::nullopt);
  EXPECT_EQ(CandidateSequence("latch-0000000001"), std::nullopt);
  EXPECT_EQ(CandidateSequence(std::string("_c_") + kUuid + "-latch-12"),
            std::nullopt);
  EXPECT_EQ(CandidateSequence("_c_not-a-uuid-at-all-xxxxxxxxxxxxxxxx-latch-"
                              "0000000001"),
            std::nullopt);
  EXPECT_EQ(CandidateSequence(Candidate(1) + "x"), std::nullopt);
}

TEST(ClusterRulesTest, LeaderIsTheLowestCandidateOwningAPublisher) {
  const std::map<std::string, int64_t> publishers = {{"127.0.0.1:1001", 11},
                                                     {"127.0.0.1:1002", 12}};
  const std::vector<CandidateNode> candidates = {
      {Candidate(5), "127.0.0.1:1002", 12},
      {"evil0000000000", "127.0.0.1:1001", 99},  // Not a candidate.
      {Candidate(0), "127.0.0.1:1001", 99},      // Another session's claim.
      {Candidate(1), "127.0.0.1:1003", 13},      // Publishes nothing.
      {Candidate(3), "127.0.0.1:1001", 11},
  };
  EXPECT_EQ(LeadingCandidate(candidates, publishers), 4u);
  EXPECT_EQ(JudgeCandidate(candidates[1], publishers),
            CandidateVerdict::kNotCandidate);
  EXPECT_EQ(JudgeCandidate(candidates[2], publishers),
            CandidateVerdict::kNoPublisher);
  EXPECT_EQ(JudgeCandidate(candidates[3], publishers),
            CandidateVerdict::kNoPublisher);
  EXPECT_EQ(LeadingCandidate({candidates[1], candidates[2]}, publishers),
            std::nullopt);
  EXPECT_EQ(LeadingCandidate({}, publishers), std::nullopt);
  EXPECT_TRUE(absl::StrContains(
      CandidateVerdictReason(CandidateVerdict::kNoPublisher, candidates[2]),
      "0x63"));
}

TEST(ClusterRulesTest, ServerDataFitsInServerInfo) {
  EXPECT_LT(kServerDataBounds.max_depth, kServerInfoBounds.max_depth);
  EXPECT_LT(kServerDataBounds.max_bytes, kServerInfoBounds.max_bytes);
  EXPECT_LT(kServerDataBounds.max_items, kServerInfoBounds.max_items);
}

}  // namespace
}  // namespace slacker::discovery
