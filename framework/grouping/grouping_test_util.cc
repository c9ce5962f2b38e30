#include "framework/grouping/grouping_test_util.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "framework/grouping/grouping_registry.h"

namespace slacker::grouping_testing {
namespace {

constexpr double kSigmas = 6;

// The chi-square value that a variable with `df` degrees of freedom exceeds
// as rarely as a normal one exceeds kSigmas (Wilson-Hilferty approximation).
double ChiSquareBound(int df) {
  double a = 2.0 / (9 * df);
  return df * std::pow(1 - a + kSigmas * std::sqrt(a), 3);
}

}  // namespace

std::vector<std::string> Addresses(int count, int first) {
  std::vector<std::string> addresses;
  for (int i = first; i < first + count; ++i) {
    addresses.push_back(absl::StrCat("10.0.0.", i, ":8080"));
  }
  return addresses;
}

std::vector<Candidate> MakeCandidates(
    const std::vector<std::string>& addresses) {
  std::vector<Candidate> candidates;
  for (const std::string& address : addresses) {
    Candidate candidate;
    candidate.address = address;
    candidate.load = std::make_shared<ServerLoad>();
    candidates.push_back(std::move(candidate));
  }
  return candidates;
}

ServerLoad& LoadOf(const Candidate& candidate) {
  // MakeCandidates made every load mutable; the candidate only reads it.
  return const_cast<ServerLoad&>(*candidate.load);
}

const Grouping& GroupingNamed(absl::string_view name) {
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(name);
  EXPECT_TRUE(spec.ok()) << spec.status();
  if (!spec.ok()) std::abort();
  return *spec->grouping;
}

std::vector<int64_t> CountPicks(GroupingPicker& picker, const CallInfo& call,
                                int picks, size_t size) {
  std::vector<int64_t> counts(size);
  for (int i = 0; i < picks; ++i) {
    absl::StatusOr<size_t> index = picker.Pick(call);
    if (!index.ok() || *index >= size) {
      ADD_FAILURE() << "pick " << i << ": "
                    << (index.ok() ? absl::StrCat("index ", *index)
                                   : index.status().ToString());
      break;
    }
    ++counts[*index];
  }
  return counts;
}

::testing::AssertionResult FitsDistribution(
    const std::vector<int64_t>& counts,
    const std::vector<double>& probabilities) {
  std::string described = absl::StrCat("counts {", absl::StrJoin(counts, ", "),
                                       "} for probabilities {",
                                       absl::StrJoin(probabilities, ", "), "}");
  if (counts.size() != probabilities.size()) {
    return ::testing::AssertionFailure() << "sizes differ: " << described;
  }
  double total = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  double chi_square = 0;
  int buckets = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    double p = probabilities[i];
    double expected = total * p;
    double deviation = counts[i] - expected;
    if (std::abs(deviation) > kSigmas * std::sqrt(expected * (1 - p)) + 0.5) {
      return ::testing::AssertionFailure() << "bucket " << i << " is off by "
                                           << deviation << ": " << described;
    }
    if (p > 0) {
      chi_square += deviation * deviation / expected;
      ++buckets;
    }
  }
  if (buckets > 1 && chi_square > ChiSquareBound(buckets - 1)) {
    return ::testing::AssertionFailure()
           << "chi-square " << chi_square << " exceeds "
           << ChiSquareBound(buckets - 1) << ": " << described;
  }
  return ::testing::AssertionSuccess() << described;
}

}  // namespace slacker::grouping_testing
