#!/usr/bin/env bash
# Installs what Slacker for C++ needs on Debian 12 (bookworm), and nothing more:
#   1. the Debian packages for build, tests, examples and benchmarks;
#   2. the gRPC core headers of exactly the installed gRPC version (Debian's source
#      package), which the resolver/LB plugin in framework/grpc_plugin compiles against.
# Idempotent: when everything is in place it says so in one line and changes nothing.
# Runs as root, or as a user with sudo. Apt's own output goes to a log file; on failure
# this script says what could not be had and where the log is.
set -euo pipefail

readonly PACKAGES=(
  # Build: Bazel and a C++ toolchain.
  bazel-bootstrap bazel-platforms g++ pkg-config
  # Fuzz targets: clang and its libFuzzer and sanitizer runtimes (bazel/clang/,
  # bazel/fuzz/); the runtimes are only a recommendation of clang's.
  clang libclang-rt-14-dev
  # gRPC, protobuf, Abseil and the code generators.
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  # ZooKeeper: the C client, and the server that tests, examples and benchmarks start.
  libzookeeper-mt-dev zookeeper libslf4j-java default-jre-headless
  # JSON: nlohmann's header-only library (the Curator payload check).
  nlohmann-json3-dev
  # Metrics: Prometheus' C++ client (registry, and the HTTP /metrics exposer).
  prometheus-cpp-dev
  # Tests and benchmarks (procps: pgrep, which the launcher's test uses; python3: the
  # README snippet check).
  libgtest-dev libgmock-dev libbenchmark-dev procps python3
  # Benchmark charts (tools/bench_charts.py, run by tools/bench.sh and its test).
  gnuplot-nox
  # TLS tests: the openssl program makes their CA and certificates (testing/certificates.h).
  openssl
  # Curator interop test: a Java probe compiled (javac) against Debian's Curator jars and
  # the jars on its class path (tests/curator/curator_interop_test.sh).
  default-jdk-headless libcurator-discovery-java libcurator-framework-java libcurator-client-java
  libzookeeper-java libguava-java libjackson2-databind-java libjackson2-core-java
  libjackson2-annotations-java
  # LeaderSelector interop test: Curator's recipes (tests/curator/LeaderSelectorProbe.java).
  libcurator-recipes-java
  # slackerctl dashboard: civetweb's HTTP server; its browser test drives Debian's
  # chromium through chromedriver with Python's selenium.
  libcivetweb-dev chromium chromium-driver python3-selenium
)

# Where the gRPC core headers are kept; bazel/grpc_core_headers.bzl reads the same place.
readonly CACHE_DIR="${SLACKER_CACHE_DIR:-${HOME:-/root}/.cache/slacker-cpp}"

say() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }

[[ -r /etc/debian_version ]] || die "this script supports Debian 12 (bookworm) only; /etc/debian_version is missing."

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "installing packages needs root: run this script as root or install sudo."
  fi
}

missing_packages() {
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    if [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) != installed ]]; then
      echo "$pkg"
    fi
  done
}

LOG=$(mktemp -t slacker-setup.XXXXXX.log)
cleanup_log() { [[ -s "$LOG" ]] || rm -f "$LOG"; }
trap cleanup_log EXIT

install_packages() {
  local -a missing=("$@")
  say "installing ${#missing[@]} Debian package(s): ${missing[*]} (apt's log: $LOG)"
  if ! as_root apt-get update >>"$LOG" 2>&1; then
    die "'apt-get update' failed; is the Debian archive reachable? Last lines of $LOG:
$(tail -n 5 "$LOG")"
  fi
  local pkg candidate
  local -a unavailable=()
  for pkg in "${missing[@]}"; do
    candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [[ -z "$candidate" || "$candidate" == "(none)" ]]; then
      unavailable+=("$pkg")
    fi
  done
  if ((${#unavailable[@]})); then
    die "these packages cannot be had from this machine's apt sources: ${unavailable[*]}.
Check /etc/apt/sources.list.d/ names Debian 12 (bookworm) 'main'."
  fi
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "${missing[@]}" >>"$LOG" 2>&1; then
    die "'apt-get install' failed. Last lines of $LOG:
$(tail -n 5 "$LOG")"
  fi
  local -a still
  mapfile -t still < <(missing_packages)
  ((${#still[@]} == 0)) || die "still missing after install: ${still[*]} (see $LOG)"
}

# The URI this machine's own apt configuration uses for bookworm's main component.
bookworm_uri() {
  local uri
  uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 2>/dev/null |
    awk '$2 == "bookworm" && $3 == "main" {print $1; exit}')
  [[ -n "$uri" ]] || uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
    awk '$2 == "bookworm" {print $1; exit}')
  echo "$uri"
}

# Debian source version of the installed gRPC, e.g. 1.51.1-3.
grpc_source_version() { dpkg-query -W -f='${source:Version}' libgrpc-dev; }

fetch_grpc_headers() {
  local version upstream dest
  version=$(grpc_source_version)
  upstream=${version%-*}
  upstream=${upstream#*:}
  dest="$CACHE_DIR/grpc-$version"
  say "fetching the gRPC $version core headers (Debian source package) into $dest"
  local uri work
  uri=$(bookworm_uri)
  [[ -n "$uri" ]] || die "no apt source for bookworm is configured on this machine; cannot fetch the gRPC source package."
  work=$(mktemp -d -t slacker-grpc-src.XXXXXX)
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  echo "deb-src $uri bookworm main" >"$work/sources.list"
  local -a apt_opts=(
    -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1
  )
  if ! (cd "$work" && apt-get "${apt_opts[@]}" update >>"$LOG" 2>&1 &&
        apt-get "${apt_opts[@]}" source --download-only "grpc=$version" >>"$LOG" 2>&1); then
    rm -rf "$work"
    die "could not download Debian's source package grpc=$version from $uri. Last lines of $LOG:
$(tail -n 5 "$LOG")"
  fi
  local tarball="$work/grpc_${upstream}.orig.tar.gz"
  [[ -f "$tarball" ]] || { rm -rf "$work"; die "the source package grpc=$version has no $tarball."; }
  # Only the headers are kept: the core's internal headers and the public ones they include.
  mkdir -p "$dest.tmp"
  if ! tar -xzf "$tarball" -C "$dest.tmp" --wildcards \
      "grpc-$upstream/src/core/*.h" "grpc-$upstream/include/*" "grpc-$upstream/LICENSE" >>"$LOG" 2>&1; then
    rm -rf "$work" "$dest.tmp"
    die "could not unpack $tarball (see $LOG)."
  fi
  rm -rf "$dest"
  mv "$dest.tmp/grpc-$upstream" "$dest"
  rm -rf "$work" "$dest.tmp"
  echo "$version" >"$dest/DEBIAN_SOURCE_VERSION"
}

mapfile -t missing < <(missing_packages)
headers_dir="$CACHE_DIR/grpc-$( (grpc_source_version) 2>/dev/null || echo none)"
if ((${#missing[@]} == 0)) && [[ -f "$headers_dir/DEBIAN_SOURCE_VERSION" ]]; then
  say "everything is in place (${#PACKAGES[@]} packages; gRPC core headers in $headers_dir)."
  exit 0
fi
if ((${#missing[@]})); then
  install_packages "${missing[@]}"
fi
headers_dir="$CACHE_DIR/grpc-$(grpc_source_version)"
if [[ ! -f "$headers_dir/DEBIAN_SOURCE_VERSION" ]]; then
  fetch_grpc_headers
fi
say "done: all ${#PACKAGES[@]} packages installed; gRPC core headers in $headers_dir."
