#include "framework/grpc_plugin/cluster_lb_config.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace slacker::internal {
namespace {

using grpc_core::Json;

absl::StatusOr<GroupingSpec> ParseSpec(const Json& json,
                                       absl::string_view what) {
  if (json.type() != Json::Type::STRING) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must be a string"));
  }
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(json.string_value());
  if (!spec.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", spec.status().message()));
  }
  return spec;
}

}  // namespace

absl::StatusOr<ClusterLbOptions> ParseClusterLbOptions(const Json& json) {
  if (json.type() != Json::Type::OBJECT) {
    return absl::InvalidArgumentError(
        absl::StrCat(kLbPolicyName, " config must be a JSON object"));
  }
  ClusterLbOptions options;
  auto string_field = [&](const char* name, std::string* out) {
    auto it = json.object_value().find(name);
    if (it != json.object_value().end() &&
        it->second.type() == Json::Type::STRING) {
      *out = it->second.string_value();
    }
  };
  string_field(kLbConfigCluster, &options.cluster);
  string_field(kLbConfigTarget, &options.target);
  string_field(kLbConfigNamespacesPath, &options.namespaces_path);
  string_field(kLbConfigAnnouncedPath, &options.announced_path);
  string_field(kLbConfigGrouping, &options.grouping.text);
  absl::StatusOr<GroupingSpec> default_grouping =
      ParseSpec(Json(options.grouping.text), kLbConfigGrouping);
  if (!default_grouping.ok()) return default_grouping.status();
  options.grouping.spec = std::move(*default_grouping);
  for (const auto& [name, value] : json.object_value()) {
    if (name == kLbConfigMethods) {
      if (value.type() != Json::Type::OBJECT) {
        return absl::InvalidArgumentError(
            absl::StrCat(kLbConfigMethods, " must be a JSON object"));
      }
      for (const auto& [method, spec_json] : value.object_value()) {
        absl::StatusOr<GroupingSpec> spec =
            ParseSpec(spec_json, absl::StrCat("grouping of ", method));
        if (!spec.ok()) return spec.status();
        options.methods[method] =
            NamedGrouping{spec_json.string_value(), std::move(*spec)};
      }
    } else if (name == kLbConfigHealthChecks) {
      if (value.type() != Json::Type::JSON_TRUE &&
          value.type() != Json::Type::JSON_FALSE) {
        return absl::InvalidArgumentError(
            absl::StrCat(kLbConfigHealthChecks, " must be true or false"));
      }
      options.health_checks = value.type() == Json::Type::JSON_TRUE;
    } else if (name == kLbConfigSetAsideAfter ||
               name == kLbConfigSetAsideForMs ||
               name == kLbConfigSetAsideSlowerThanMs) {
      int64_t number = 0;
      if (value.type() != Json::Type::NUMBER ||
          !absl::SimpleAtoi(value.string_value(), &number) || number < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, " must be a whole number >= 0"));
      }
      if (name == kLbConfigSetAsideAfter) {
        options.set_aside.after = static_cast<int>(number);
      } else if (name == kLbConfigSetAsideSlowerThanMs) {
        options.set_aside.slower_than = number == 0
                                            ? absl::InfiniteDuration()
                                            : absl::Milliseconds(number);
      } else {
        options.set_aside.period = absl::Milliseconds(number);
      }
    }
  }
  return options;
}

}  // namespace slacker::internal
