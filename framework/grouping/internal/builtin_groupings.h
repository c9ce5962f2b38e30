// Factories of the built-in groupings, one per file <name>_grouping.cc. Only
// the registry (grouping_registry.cc) calls them: everyone else finds a
// grouping by name through ParseGroupingSpec.

#ifndef SLACKER_FRAMEWORK_GROUPING_INTERNAL_BUILTIN_GROUPINGS_H_
#define SLACKER_FRAMEWORK_GROUPING_INTERNAL_BUILTIN_GROUPINGS_H_

#include <memory>
#include <string>

#include "framework/grouping/grouping.h"
#include "framework/grouping/grouping_registry.h"

namespace slacker::internal {

std::unique_ptr<Grouping> NewFirstGrouping();
std::unique_ptr<Grouping> NewHashGrouping();
std::unique_ptr<Grouping> NewLeaderGrouping();
std::unique_ptr<Grouping> NewLeastInFlightGrouping();
std::unique_ptr<Grouping> NewRandomGrouping();
std::unique_ptr<Grouping> NewRoundRobinGrouping();
std::unique_ptr<Grouping> NewServerGrouping();
std::unique_ptr<Grouping> NewStickyGrouping();
std::unique_ptr<Grouping> NewWeightedGrouping();

// A user's function under `name`. REQUIRES: `function` is not empty.
std::unique_ptr<Grouping> NewFunctionGrouping(std::string name,
                                              CallGroupingFunction function);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_GROUPING_INTERNAL_BUILTIN_GROUPINGS_H_
