"""cc_grpc_library: C++ messages and gRPC services from .proto files, with Debian's protoc.

    load("@slacker//bazel:cc_grpc_library.bzl", "cc_grpc_library")

    cc_grpc_library(
        name = "api_cc_grpc",
        srcs = ["api.proto"],
        deps = ["//protos:common_cc_grpc"],  # cc_grpc_library targets whose .proto files api.proto imports
    )

Imports are written relative to the root of the repository that holds the imported file
(`import "protos/common.proto";`); Google's well-known types (`google/protobuf/*.proto`)
come from the system's protobuf. The result is a cc_library holding foo.pb.{h,cc} and
foo.grpc.pb.{h,cc} for each foo.proto, linked against the system gRPC++ and protobuf.
"""

SlackerProtoInfo = provider(
    doc = "The .proto files of a cc_grpc_library and of everything it imports.",
    fields = {
        "direct_sources": "the target's own .proto files",
        "transitive_sources": "depset of every .proto the target may import",
    },
)

_SUFFIXES = [".pb.h", ".pb.cc", ".grpc.pb.h", ".grpc.pb.cc"]

def _import_root(f):
    # The folder protoc needs on -I for a source: its repository's root.
    return f.owner.workspace_root if f.owner.workspace_root else "."

def _codegen_impl(ctx):
    transitive = depset(
        ctx.files.srcs,
        transitive = [d[SlackerProtoInfo].transitive_sources for d in ctx.attr.deps],
    )
    outputs = []
    for src in ctx.files.srcs:
        if not src.basename.endswith(".proto"):
            fail("cc_grpc_library %s: %s is not a .proto file." % (ctx.label, src.short_path))
        base = src.basename[:-len(".proto")]
        for suffix in _SUFFIXES:
            outputs.append(ctx.actions.declare_file(base + suffix, sibling = src))

    out_root = ctx.bin_dir.path
    if ctx.label.workspace_root:
        out_root += "/" + ctx.label.workspace_root
    roots = {}
    for f in transitive.to_list():
        roots[_import_root(f)] = True
    args = ctx.actions.args()
    # Errors name the cc_grpc_library the user wrote, not this internal rule.
    args.add(str(ctx.label)[:-len("_codegen")])
    args.add(ctx.attr.protoc)
    for root in roots.keys():
        args.add("-I" + root)
    args.add("--cpp_out=" + out_root)
    args.add("--grpc_out=" + out_root)
    args.add("--plugin=protoc-gen-grpc=" + ctx.attr.grpc_plugin)
    for src in ctx.files.srcs:
        args.add(src.path[len(_import_root(src)) + 1:] if _import_root(src) != "." else src.path)

    ctx.actions.run(
        executable = ctx.executable._wrapper,
        arguments = [args],
        inputs = transitive,
        outputs = outputs,
        mnemonic = "GrpcCodegen",
        progress_message = "Generating C++ gRPC code for %s" % ctx.label,
        use_default_shell_env = True,
    )
    return [
        DefaultInfo(files = depset(outputs)),
        OutputGroupInfo(
            headers = depset([f for f in outputs if f.basename.endswith(".h")]),
            sources = depset([f for f in outputs if f.basename.endswith(".cc")]),
        ),
        SlackerProtoInfo(direct_sources = ctx.files.srcs, transitive_sources = transitive),
    ]

_cc_grpc_codegen = rule(
    implementation = _codegen_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".proto"], mandatory = True),
        "deps": attr.label_list(providers = [SlackerProtoInfo]),
        "protoc": attr.string(default = "/usr/bin/protoc"),
        "grpc_plugin": attr.string(default = "/usr/bin/grpc_cpp_plugin"),
        "_wrapper": attr.label(
            default = Label("//bazel:protoc_wrapper.sh"),
            executable = True,
            cfg = "exec",
            allow_single_file = True,
        ),
    },
)

def _codegen_label(dep):
    # "//a/b" -> "//a/b:b_codegen", "//a:x" and ":x" -> "...:x_codegen".
    if ":" in dep.split("//")[-1]:
        return dep + "_codegen"
    return dep + ":" + dep.split("/")[-1] + "_codegen"

def cc_grpc_library(name, srcs, deps = [], visibility = None, testonly = None, **kwargs):
    """A cc_library of the messages and services of `srcs`.

    Args:
      name: the cc_library's name; `<name>_codegen` holds the generated files.
      srcs: .proto files of this package.
      deps: other cc_grpc_library targets, owning the .proto files that `srcs` import.
      visibility, testonly: as for any rule.
      **kwargs: passed on to the cc_library (e.g. `tags`).
    """
    if not srcs:
        fail("cc_grpc_library %s: srcs is empty; name the .proto files to compile." % name)
    codegen = name + "_codegen"
    _cc_grpc_codegen(
        name = codegen,
        srcs = srcs,
        deps = [_codegen_label(d) for d in deps],
        visibility = visibility,
        testonly = testonly,
    )
    for group in ["headers", "sources"]:
        native.filegroup(
            name = "%s_%s" % (name, group),
            srcs = [":" + codegen],
            output_group = group,
            visibility = ["//visibility:private"],
            testonly = testonly,
        )
    native.cc_library(
        name = name,
        srcs = [":%s_sources" % name],
        hdrs = [":%s_headers" % name],
        # Generated code is not held to the project's warning flags.
        copts = ["-w"],
        # foo.pb.cc registers foo.proto's descriptors at start-up. A server
        # that references only the generated service class would otherwise
        # drop that object when linking statically, and the cluster server
        # could not describe its methods in ZooKeeper.
        alwayslink = True,
        deps = deps + [str(Label("//third_party:grpc++")), str(Label("//third_party:protobuf"))],
        visibility = visibility,
        testonly = testonly,
        **kwargs
    )
