// Helpers for the groupings' tests: candidate lists, and a statistical check
// of how picks spread over the candidates.

#ifndef SLACKER_FRAMEWORK_GROUPING_GROUPING_TEST_UTIL_H_
#define SLACKER_FRAMEWORK_GROUPING_GROUPING_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "framework/grouping/grouping.h"
#include "gtest/gtest.h"

namespace slacker::grouping_testing {

// "10.0.0.<first>:8080" ... for `count` servers; sorted as the channel sorts
// (by address) as long as first + count <= 10.
std::vector<std::string> Addresses(int count, int first = 0);

// Candidates with these addresses, in this order, each with its own load.
std::vector<Candidate> MakeCandidates(
    const std::vector<std::string>& addresses);

// The load of a candidate made by MakeCandidates, to change as the channel
// changes it.
ServerLoad& LoadOf(const Candidate& candidate);

// The registry's grouping of that name; fails the test if there is none.
const Grouping& GroupingNamed(absl::string_view name);

// How many of `picks` picks went to each of `size` candidates. Fails the test
// on an error or an index out of range.
std::vector<int64_t> CountPicks(GroupingPicker& picker, const CallInfo& call,
                                int picks, size_t size);

// Whether `counts` fit drawing independently with `probabilities`: each count
// within 6 standard deviations of its expectation, and Pearson's chi-square
// below its 6-sigma bound. A correct picker fails with a probability of about
// 1e-9, so these tests do not flake.
::testing::AssertionResult FitsDistribution(
    const std::vector<int64_t>& counts,
    const std::vector<double>& probabilities);

}  // namespace slacker::grouping_testing

#endif  // SLACKER_FRAMEWORK_GROUPING_GROUPING_TEST_UTIL_H_
