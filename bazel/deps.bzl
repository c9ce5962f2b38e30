"""Declares every external repository Slacker for C++ needs. All of them are local.

In this workspace's WORKSPACE, and in a user's own WORKSPACE after a
local_repository(name = "slacker", ...) that points at this tree:

    load("@slacker//bazel:deps.bzl", "slacker_dependencies")
    slacker_dependencies()
"""

load("//bazel:grpc_core_headers.bzl", "grpc_core_headers")
load("//bazel:system_libs.bzl", "system_libraries")

def _local_copy_impl(rctx):
    # Links every file of a folder of this repository, found through a label so that it
    # works whether this repository is the main one or @slacker in a user's workspace.
    root = rctx.path(rctx.attr.marker).dirname
    for child in root.readdir():
        rctx.symlink(child, child.basename)

_local_copy = repository_rule(
    implementation = _local_copy_impl,
    attrs = {"marker": attr.label(mandatory = True, allow_single_file = True)},
    local = True,
)

def _lib(package, pkg_config = [], linkopts = [], defines = [], headers = [], deps = []):
    return json.encode(struct(
        package = package,
        pkg_config = pkg_config,
        linkopts = linkopts,
        defines = defines,
        headers = headers,
        deps = deps,
    ))

# Abseil parts the project uses directly; gRPC's own link line brings the rest.
_ABSL = {
    "absl_base": ["absl_base"],
    "absl_flags": ["absl_flags", "absl_flags_parse", "absl_flags_usage"],
    "absl_random": ["absl_random_random"],
    "absl_status": ["absl_status", "absl_statusor"],
    "absl_strings": ["absl_strings", "absl_str_format"],
    "absl_synchronization": ["absl_synchronization"],
    "absl_time": ["absl_time"],
}

def slacker_dependencies():
    """Declares the local repositories; call it once from WORKSPACE."""
    existing = native.existing_rules()
    for name, directory in [
        ("rules_cc", "rules_cc"),
        ("rules_java", "rules_java"),
        ("remote_coverage_tools", "remote_coverage_tools"),
    ]:
        if name not in existing:
            _local_copy(name = name, marker = Label("//third_party/%s:WORKSPACE" % directory))
    if "platforms" not in existing:
        native.local_repository(name = "platforms", path = "/usr/share/bazel/tools/platforms")

    libraries = {
        "protobuf": _lib("libprotobuf-dev", pkg_config = ["protobuf"]),
        "grpc": _lib("libgrpc-dev", pkg_config = ["grpc"]),
        "grpc++": _lib("libgrpc++-dev", pkg_config = ["grpc++"], deps = [":grpc", ":protobuf"]),
        # gRPC's server reflection and channelz services (no pkg-config files).
        "grpc++_reflection": _lib(
            "libgrpc++-dev",
            linkopts = ["-lgrpc++_reflection"],
            headers = ["/usr/include/grpcpp/ext/proto_server_reflection_plugin.h"],
            deps = [":grpc++"],
        ),
        "grpcpp_channelz": _lib(
            "libgrpc++-dev",
            linkopts = ["-lgrpcpp_channelz"],
            headers = ["/usr/include/grpcpp/ext/channelz_service_plugin.h"],
            deps = [":grpc++"],
        ),
        "zookeeper": _lib(
            "libzookeeper-mt-dev",
            linkopts = ["-lzookeeper_mt"],
            # The synchronous API is declared only for the multi-threaded library.
            defines = ["THREADED"],
            headers = ["/usr/include/zookeeper/zookeeper.h"],
        ),
        "gtest": _lib("libgtest-dev", pkg_config = ["gtest"]),
        "gtest_main": _lib("libgtest-dev", pkg_config = ["gtest_main"], deps = [":gtest"]),
        "gmock": _lib("libgmock-dev", pkg_config = ["gmock"], deps = [":gtest"]),
        # Header-only; pkg-config gives no flags beyond the system include path.
        "nlohmann_json": _lib(
            "nlohmann-json3-dev",
            pkg_config = ["nlohmann_json"],
            headers = ["/usr/include/nlohmann/json.hpp"],
        ),
        # Metrics (framework/metrics.h): the registry and its HTTP exposer.
        "prometheus": _lib(
            "prometheus-cpp-dev",
            pkg_config = ["prometheus-cpp-core", "prometheus-cpp-pull"],
            headers = ["/usr/include/prometheus/registry.h"],
        ),
        # No pkg-config file in Debian's package: the header and -lcivetweb.
        "civetweb": _lib(
            "libcivetweb-dev",
            linkopts = ["-lcivetweb"],
            headers = ["/usr/include/civetweb.h"],
        ),
        "benchmark": _lib("libbenchmark-dev", pkg_config = ["benchmark"]),
        "benchmark_main": _lib(
            "libbenchmark-dev",
            linkopts = ["-lbenchmark_main"],
            deps = [":benchmark"],
        ),
    }
    for name, modules in _ABSL.items():
        libraries[name] = _lib("libabsl-dev", pkg_config = modules)
    if "system_libs" not in existing:
        system_libraries(name = "system_libs", libraries = libraries)
    if "grpc_core_headers" not in existing:
        grpc_core_headers(name = "grpc_core_headers")
