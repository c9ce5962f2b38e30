"""cc_library for framework/grpc_plugin, the one folder that compiles against grpc_core."""

def grpc_plugin_cc_library(name, copts = [], **kwargs):
    """A cc_library that may include gRPC core headers.

    Debian's libgrpc is built without NDEBUG, and grpc_core::RefCount (among others)
    changes its layout with NDEBUG: code compiled with it (as `-c opt` does) would share
    corrupted objects with the library. NDEBUG is therefore always undefined here.
    """
    native.cc_library(
        name = name,
        copts = copts + ["-UNDEBUG"],
        **kwargs
    )
