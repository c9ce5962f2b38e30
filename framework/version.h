// The version of Slacker for C++ that this build is. Every cluster server
// writes it into its ServerInfo (protos/slacker/cluster/registry.proto,
// `version`), so that tools can tell builds apart, and `slackerctl --version`
// prints it: one constant, so that the two always agree.

#ifndef SLACKER_FRAMEWORK_VERSION_H_
#define SLACKER_FRAMEWORK_VERSION_H_

namespace slacker {

// "slacker-cpp MAJOR.MINOR.PATCH".
inline constexpr char kVersion[] = "slacker-cpp 0.1.0";

}  // namespace slacker

#endif  // SLACKER_FRAMEWORK_VERSION_H_
