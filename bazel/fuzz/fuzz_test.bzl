"""slacker_fuzz_test: a fuzz target that the suite runs, for a bounded time.

    load("//bazel/fuzz:fuzz_test.bzl", "slacker_fuzz_test")

    slacker_fuzz_test(
        name = "connect_string_fuzz_test",
        srcs = ["connect_string_fuzzer.cc"],  # Defines LLVMFuzzerTestOneInput.
        corpus = glob(["corpus/connect_string/*"]),
        regressions = glob(["regressions/connect_string/*"]),
        deps = ["//discovery:connect_string"],
    )

How the target is built and run depends on the configuration the test is in:

  * In a build without a sanitizer (plain `bazel test //...`), the fuzzer and
    everything it depends on are built with Debian's clang (bazel/clang/),
    libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer, through a
    transition; the test runs libFuzzer for `seconds` on the corpus and the
    regression inputs (all of which must pass first). New inputs it finds stay
    in the test's temporary folder; a crash's input is written to the test's
    undeclared outputs (bazel-testlogs/<package>/<name>/test.outputs/).
  * Under a sanitizer config (--config=asan, tsan, ubsan: any -fsanitize copt)
    or with --//bazel/fuzz:engine=replay, the same source is built as the
    configuration builds everything else (gcc, that sanitizer) and linked with
    a replay driver (replay_main.cc): every corpus and regression input, then
    `replay_mutations` deterministic mutations of them. The sanitizer configs
    thus stay gcc-only, and the long run happens once, in the plain build.

`bazel run` with arguments passes them to the fuzzer itself, e.g. to grow the
corpus in the tree (libFuzzer writes new inputs into the first folder):

    bazel run //fuzz:connect_string_fuzz_test -- -max_total_time=300 \\
        $PWD/fuzz/corpus/connect_string
"""

load("@rules_cc//cc:defs.bzl", "cc_binary")

_ENGINE = "//bazel/fuzz:engine"
_LIBFUZZER = "//bazel/fuzz:libfuzzer"

# Added to the configuration's own flags when building with libFuzzer. gRPC's
# headers change gpr_mu's layout under ASan unless told the library is not
# built with it (as in the asan config); vptr checks would misread objects of
# Debian's libraries, which carry no UBSan type data.
_FUZZ_COPTS = [
    "-fsanitize=fuzzer-no-link,address,undefined",
    "-fno-sanitize=vptr",
    "-fno-sanitize-recover=undefined",
    "-fno-omit-frame-pointer",
    "-O1",
    "-g",
    "-DGRPC_ASAN_SUPPRESSED",
]
_FUZZ_LINKOPTS = [
    "-fsanitize=address,undefined",
    # The toolchain links with clang, not clang++: ask for the C++ parts of
    # the sanitizers' runtimes.
    "-fsanitize-link-c++-runtime",
]

_OPTIONS = [
    "//command_line_option:crosstool_top",
    "//command_line_option:copt",
    "//command_line_option:linkopt",
    _LIBFUZZER,
]

def _fuzz_transition_impl(settings, attr):
    copts = settings["//command_line_option:copt"]
    sanitized = [c for c in copts if c.startswith("-fsanitize")]
    if sanitized or settings[_ENGINE] == "replay":
        # Unchanged: the configuration the rest of the build uses.
        return {option: settings[option] for option in _OPTIONS}
    return {
        "//command_line_option:crosstool_top": "//bazel/clang:toolchain",
        "//command_line_option:copt": copts + _FUZZ_COPTS,
        "//command_line_option:linkopt": settings["//command_line_option:linkopt"] + _FUZZ_LINKOPTS,
        _LIBFUZZER: True,
    }

_fuzz_transition = transition(
    implementation = _fuzz_transition_impl,
    inputs = _OPTIONS + [_ENGINE],
    outputs = _OPTIONS,
)

FuzzEngineInfo = provider(fields = {"libfuzzer": "whether the fuzzer is linked with libFuzzer"})

def _fuzz_engine_info_impl(ctx):
    return [FuzzEngineInfo(libfuzzer = ctx.attr._libfuzzer[FuzzSettingInfo].value)]

FuzzSettingInfo = provider(fields = {"value": "the setting's value"})

def _setting_impl(ctx):
    return [FuzzSettingInfo(value = ctx.build_setting_value)]

fuzz_string_flag = rule(
    implementation = _setting_impl,
    build_setting = config.string(flag = True),
)

fuzz_bool_setting = rule(
    implementation = _setting_impl,
    build_setting = config.bool(flag = False),
)

fuzz_engine_info = rule(
    implementation = _fuzz_engine_info_impl,
    attrs = {"_libfuzzer": attr.label(default = _LIBFUZZER)},
)

def _runfiles_path(ctx, file):
    return ctx.workspace_name + "/" + file.short_path

def _fuzz_test_impl(ctx):
    binary = ctx.attr.binary[0]
    executable = binary[DefaultInfo].files_to_run.executable
    libfuzzer = ctx.attr._engine[0][FuzzEngineInfo].libfuzzer
    folders = {}
    for f in ctx.files.corpus + ctx.files.regressions:
        folders[_runfiles_path(ctx, f).rpartition("/")[0]] = True
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.expand_template(
        template = ctx.file._runner,
        output = script,
        is_executable = True,
        substitutions = {
            "%{binary}": _runfiles_path(ctx, executable),
            "%{engine}": "libfuzzer" if libfuzzer else "replay",
            "%{folders}": " ".join(sorted(folders.keys())),
            "%{seconds}": str(ctx.attr.seconds),
            "%{mutations}": str(ctx.attr.replay_mutations),
            "%{max_len}": str(ctx.attr.max_len),
        },
    )
    runfiles = ctx.runfiles(files = [executable] + ctx.files.corpus + ctx.files.regressions)
    runfiles = runfiles.merge(binary[DefaultInfo].default_runfiles)
    return [DefaultInfo(executable = script, runfiles = runfiles)]

_fuzz_test = rule(
    implementation = _fuzz_test_impl,
    test = True,
    attrs = {
        "binary": attr.label(mandatory = True, executable = True, cfg = _fuzz_transition),
        "corpus": attr.label_list(allow_files = True),
        "regressions": attr.label_list(allow_files = True),
        "seconds": attr.int(default = 15),
        "replay_mutations": attr.int(default = 5000),
        "max_len": attr.int(default = 4096),
        "_engine": attr.label(default = "//bazel/fuzz:engine_info", cfg = _fuzz_transition),
        "_runner": attr.label(default = "//bazel/fuzz:fuzz_test_runner.sh.tpl", allow_single_file = True),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)

def slacker_fuzz_test(
        name,
        srcs,
        deps = [],
        copts = [],
        corpus = [],
        regressions = [],
        seconds = 15,
        replay_mutations = 5000,
        max_len = 4096,
        size = "medium",
        tags = [],
        **kwargs):
    """A fuzz target, run by the suite: see this file's docstring.

    Args:
      name: the test's name; the fuzzer binary is name + "_fuzzer".
      srcs: the fuzz target's sources, defining LLVMFuzzerTestOneInput (and
        optionally LLVMFuzzerInitialize).
      deps: what it fuzzes.
      copts: as for cc_binary.
      corpus: inputs the run starts from (files; each a test case).
      regressions: inputs that once failed; each must pass.
      seconds: how long libFuzzer runs (-max_total_time).
      replay_mutations: how many mutated inputs the replay driver tries.
      max_len: the longest input libFuzzer makes (-max_len).
      size: the test's size.
      tags: the test's tags; "fuzz" is added.
      **kwargs: passed to the test (e.g. visibility).
    """
    cc_binary(
        name = name + "_fuzzer",
        testonly = True,
        srcs = srcs,
        copts = copts,
        deps = deps + select({
            "//bazel/fuzz:with_libfuzzer": [],
            "//conditions:default": ["//bazel/fuzz:replay_main"],
        }),
        linkopts = select({
            "//bazel/fuzz:with_libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        tags = ["manual"],
    )
    _fuzz_test(
        name = name,
        binary = ":" + name + "_fuzzer",
        corpus = corpus,
        regressions = regressions,
        seconds = seconds,
        replay_mutations = replay_mutations,
        max_len = max_len,
        size = size,
        tags = tags + ["fuzz"],
        **kwargs
    )
