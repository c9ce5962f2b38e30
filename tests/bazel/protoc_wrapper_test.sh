#!/bin/bash
# cc_grpc_library's errors must say what is wrong: a missing import, a syntax error,
# a missing protoc. Runs bazel/protoc_wrapper.sh as the rule does, on bad inputs.
set -u
wrapper="$TEST_SRCDIR/$TEST_WORKSPACE/bazel/protoc_wrapper.sh"
work="$TEST_TMPDIR/protos"
mkdir -p "$work/pkg" "$work/out"
cd "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

expect_error() {  # name, expected text, wrapper args...
  local name=$1 expected=$2
  shift 2
  local out
  if out=$("$wrapper" //pkg:target "$@" 2>&1); then
    fail "$name: the wrapper succeeded; output: $out"
  elif ! grep -qF -- "$expected" <<<"$out"; then
    fail "$name: expected '$expected' in: $out"
  else
    echo "ok: $name"
  fi
}

protoc_args=(-I. --cpp_out=out --grpc_out=out --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin)

cat >pkg/bad_import.proto <<'P'
syntax = "proto3";
package t;
import "pkg/nowhere.proto";
message A { Nowhere n = 1; }
P
expect_error "missing import names the file" 'pkg/nowhere.proto' /usr/bin/protoc "${protoc_args[@]}" pkg/bad_import.proto
expect_error "missing import explains deps" 'must be listed in deps' /usr/bin/protoc "${protoc_args[@]}" pkg/bad_import.proto
expect_error "missing import names the target" 'cc_grpc_library //pkg:target' /usr/bin/protoc "${protoc_args[@]}" pkg/bad_import.proto

cat >pkg/syntax.proto <<'P'
syntax = "proto3";
package t;
message A { string s = ; }
P
expect_error "syntax error has file and line" 'pkg/syntax.proto:3' /usr/bin/protoc "${protoc_args[@]}" pkg/syntax.proto
expect_error "syntax error names the target" 'protoc rejected' /usr/bin/protoc "${protoc_args[@]}" pkg/syntax.proto

expect_error "missing protoc says what to install" 'run tools/setup.sh' /nonexistent/protoc "${protoc_args[@]}" pkg/syntax.proto

cat >pkg/good.proto <<'P'
syntax = "proto3";
package t;
import "google/protobuf/empty.proto";
service S { rpc M(google.protobuf.Empty) returns (google.protobuf.Empty); }
P
if "$wrapper" //pkg:target /usr/bin/protoc "${protoc_args[@]}" pkg/good.proto && [[ -s out/pkg/good.grpc.pb.h ]]; then
  echo "ok: a valid proto with a well-known import compiles"
else
  fail "a valid proto did not compile"
fi

echo "$((7 - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
