#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs, with apt-get, the Debian 12 (bookworm) packages of the groups asked for, and only
# those that are missing. Safe to run again: a second run installs and builds nothing and says so.
#
#   bash scripts/setup.sh [--run] [--test] [--windows] [--bench] [--all]
#
#   --run      (the default) build and run on Linux: compiler, cmake, ninja, pkg-config,
#              liburing, protobuf-c runtime and protoc-c. What scripts/run.sh uses.
#   --test     the test suite's tools: cmocka, clang with its sanitizer and libFuzzer
#              runtimes, clang-format, git (check-format.sh), procps, prometheus and curl
#              (the metrics tests).
#   --windows  the Windows build: mingw-w64 gcc, wine64, dpkg-dev; then scripts/windeps.sh,
#              which adds a deb-src entry to apt's sources and builds protobuf-c and cmocka
#              for mingw from Debian's source packages.
#   --bench    the benchmarks' tools: libuv (baseline server), gnuplot-nox (plots).
#   --all      every group: what scripts/test.sh uses.
# --test, --windows and --bench include --run.
set -euo pipefail

# The package groups. To add a package, add a line to its group (one per line, comment allowed).
RUN_PACKAGES=(
    build-essential     # gcc, make, libc headers, binutils
    cmake               # >= 3.25 for CMakePresets.json version 6
    ninja-build         # generator of every preset
    pkg-config          # finds liburing and protobuf-c (and cmocka)
    liburing-dev        # io_uring backend of net/
    libprotobuf-c-dev   # protobuf-c runtime for packet/ (1.4.1 on bookworm)
    protobuf-c-compiler # protoc-c, run by gs_add_proto()
)
TEST_PACKAGES=(
    git                 # scripts/check-format.sh lists tracked files with git ls-files
    clang               # clang, asan and tsan presets
    libclang-rt-14-dev  # sanitizer and libFuzzer runtimes for clang 14
    clang-format        # scripts/check-format.sh (clang-format 14 on bookworm)
    libcmocka-dev       # unit test framework
    procps              # ps, pgrep, used when debugging tests and benchmarks
    prometheus          # prometheus + promtool: tests/programs/metrics_*.sh (live scrapes)
    curl                # scrapes /metrics and queries Prometheus's API in those tests
)
WINDOWS_PACKAGES=(
    gcc-mingw-w64-x86-64 # x86_64-w64-mingw32-gcc: the mingw preset (Windows build)
    wine64              # /usr/lib/wine/wine64 runs the mingw preset's tests
    dpkg-dev            # dpkg-source, for apt-get source in scripts/windeps.sh
)
BENCH_PACKAGES=(
    libuv1-dev          # baseline for the benchmarks in bench/
    gnuplot-nox         # plots of bench/echo_bench.sh
)

want_windows=0
PACKAGES=("${RUN_PACKAGES[@]}")
[ "$#" -eq 0 ] && set -- --run
for arg in "$@"; do
    case "$arg" in
        --run) ;;
        --test) PACKAGES+=("${TEST_PACKAGES[@]}") ;;
        --windows) PACKAGES+=("${WINDOWS_PACKAGES[@]}"); want_windows=1 ;;
        --bench) PACKAGES+=("${BENCH_PACKAGES[@]}") ;;
        --all)
            PACKAGES+=("${TEST_PACKAGES[@]}" "${WINDOWS_PACKAGES[@]}" "${BENCH_PACKAGES[@]}")
            want_windows=1
            ;;
        -h | --help)
            sed -n '3,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) echo "setup.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done
# Each package once, in order.
mapfile -t PACKAGES < <(printf '%s\n' "${PACKAGES[@]}" | awk '!seen[$0]++')

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done

# Windows build dependencies (protobuf-c runtime and cmocka built with mingw from Debian's
# source packages); skips everything that is already built. Only for --windows and --all.
windeps() {
    [ "$want_windows" -eq 1 ] || return 0
    bash "$(dirname "${BASH_SOURCE[0]}")/windeps.sh"
}
# protobufjs for the chat page that gs-chat-server embeds (npm ci, pinned by
# server/chat/web/package-lock.json); every group builds the chat server.
web() {
    bash "$(dirname "${BASH_SOURCE[0]}")/setup-web.sh" --npm-only
}

if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup.sh: all ${#PACKAGES[@]} packages already installed, nothing to do"
    windeps
    web
    exit 0
fi

echo "setup.sh: installing ${#missing[@]} missing package(s): ${missing[*]}"

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "setup.sh: must run as root (or have sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"

still_missing=()
for pkg in "${missing[@]}"; do
    installed "$pkg" || still_missing+=("$pkg")
done
if [ "${#still_missing[@]}" -ne 0 ]; then
    echo "setup.sh: still missing after apt-get install: ${still_missing[*]}" >&2
    exit 1
fi
echo "setup.sh: installed ${missing[*]}"
windeps
web
