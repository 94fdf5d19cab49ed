#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs, with apt-get, the Debian 12 (bookworm) packages that building, testing and running
# gameserver need, and only those that are missing; then builds the Windows build's protobuf-c
# and cmocka from Debian's source packages (scripts/windeps.sh). Safe to run again: a second run
# installs and builds nothing and says so.
set -euo pipefail

# The one list of packages. To add one, add a line here (one package per line, optional comment).
PACKAGES=(
    build-essential     # gcc, make, libc headers
    cmake               # >= 3.25 for CMakePresets.json version 6
    ninja-build         # generator of every preset
    pkg-config          # finds liburing and cmocka
    git                 # scripts/check-format.sh lists tracked files with git ls-files
    clang               # clang, asan and tsan presets
    libclang-rt-14-dev  # sanitizer and libFuzzer runtimes for clang 14
    clang-format        # scripts/check-format.sh (clang-format 14 on bookworm)
    liburing-dev        # io_uring backend of net/
    libcmocka-dev       # unit test framework
    libuv1-dev          # baseline for the benchmarks in bench/
    libprotobuf-c-dev   # protobuf-c runtime for packet/ (1.4.1 on bookworm)
    protobuf-c-compiler # protoc-c, run by gs_add_proto()
    procps              # ps, pgrep, used when debugging tests and benchmarks
    gcc-mingw-w64-x86-64 # x86_64-w64-mingw32-gcc: the mingw preset (Windows build)
    wine64              # /usr/lib/wine/wine64 runs the mingw preset's tests
    dpkg-dev            # dpkg-source, for apt-get source in scripts/windeps.sh
)

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done

# Windows build dependencies (protobuf-c runtime and cmocka built with mingw from Debian's
# source packages); skips everything that is already built.
windeps() {
    bash "$(dirname "${BASH_SOURCE[0]}")/windeps.sh"
}

if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup.sh: all ${#PACKAGES[@]} packages already installed, nothing to do"
    windeps
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
