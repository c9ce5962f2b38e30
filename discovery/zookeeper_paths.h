// ZooKeeper path rules, in one place: what a valid path is, joining, parents,
// and the sequence suffix of sequential nodes.

#ifndef SLACKER_DISCOVERY_ZOOKEEPER_PATHS_H_
#define SLACKER_DISCOVERY_ZOOKEEPER_PATHS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace slacker::discovery {

// OK if `path` is a valid absolute ZooKeeper path: starts with '/', no empty
// segment, no trailing '/' (except "/" itself), no "." or ".." segment, no
// NUL or control character. InvalidArgument otherwise, saying why.
absl::Status ValidatePath(absl::string_view path);

// OK if `name` can be one segment of a path (a node name): non-empty, no '/',
// not "." or "..", no NUL or control character. `what` names it in the error
// ("cluster name", ...).
absl::Status ValidateNodeName(absl::string_view name, absl::string_view what);

// "/a" + "b" -> "/a/b"; "/" + "b" -> "/b".
std::string JoinPath(absl::string_view parent, absl::string_view child);

// "/a/b" -> "/a"; "/a" -> "/"; "/" -> "/".
std::string ParentPath(absl::string_view path);

// "/a/b" -> "b"; "/" -> "".
absl::string_view NodeName(absl::string_view path);

// The 10-digit sequence ZooKeeper appends to sequential nodes:
// "n_0000000042" -> 42; nullopt if `name` does not end in 10 digits.
std::optional<int64_t> SequenceNumber(absl::string_view name);

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_ZOOKEEPER_PATHS_H_
