#!/bin/bash
# Runs the system protoc for cc_grpc_library and, when it fails, says which target
# failed and how proto imports are resolved in this workspace.
# Usage: protoc_wrapper.sh TARGET_LABEL PROTOC [PROTOC ARGS...]
label=$1
protoc=$2
shift 2
if [[ ! -x "$protoc" ]]; then
  echo "cc_grpc_library $label: $protoc is not installed; run tools/setup.sh (Debian packages protobuf-compiler and protobuf-compiler-grpc)." >&2
  exit 1
fi
if ! errors=$("$protoc" "$@" 2>&1); then
  echo "$errors" >&2
  if grep -q -e 'was not found' -e 'File not found' <<<"$errors"; then
    echo "cc_grpc_library $label: an import was not found. Imports are written relative to the workspace root (import \"protos/foo/bar.proto\";), and the cc_grpc_library that owns the imported file must be listed in deps." >&2
  else
    echo "cc_grpc_library $label: protoc rejected the .proto files above." >&2
  fi
  exit 1
fi
[[ -z "$errors" ]] || echo "$errors" >&2
