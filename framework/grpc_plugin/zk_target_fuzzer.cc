// Fuzz target: the `zk` resolver's reading of a channel target,
// "zk://<hosts>/<cluster>[?query]" (zk_resolver.h). Here, not in //fuzz,
// because it goes through gRPC's internal URI type: the target is parsed by
// grpc_core::URI::Parse and checked by the factory's IsValidUri, as gRPC does
// when a channel is made. Its inputs are in fuzz/corpus/zk_target/.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"
#include "framework/grpc_plugin/zk_resolver.h"
#include "src/core/lib/uri/uri_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const grpc_core::ResolverFactory* const factory =
      slacker::internal::MakeZkResolverFactory().release();
  const absl::string_view target(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<grpc_core::URI> uri = grpc_core::URI::Parse(target);
  if (!uri.ok()) return 0;
  static_cast<void>(factory->IsValidUri(*uri));
  return 0;
}
