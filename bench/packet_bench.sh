#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Packet-layer micro-benchmark: runs bench/packet-bench of a release build, which measures the
# pool, pooled packets, encode and decode against malloc/free and protobuf-c's default allocator
# in the same invocation, and prints one line per case (gs_ns, baseline_ns, ratio baseline/gs,
# medians of RUNS runs of at least MIN_MS each) and a final JSON object with every median.
# Producer/consumer threads pin themselves to CPU 0/1 (single-thread cases run on CPU 0).
# Usage: bench/packet_bench.sh [BUILD_DIR (default build/release)] [RUNS (5)] [MIN_MS (200)]
#        [packet-bench options, e.g. --only xthread, --variant gs]
set -u
B=${1:-build/release}
RUNS=${2:-5}
MIN_MS=${3:-200}
shift $(($# < 3 ? $# : 3))
BIN=$B/bench/packet-bench
[ -x "$BIN" ] || { echo "missing $BIN: build the release preset (cmake --preset release)"; exit 2; }
TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$B/CMakeCache.txt" 2>/dev/null)
case "$TYPE" in
  Release | RelWithDebInfo) ;;
  *) echo "# WARNING: $B is a '${TYPE:-unknown}' build: figures are not release figures" ;;
esac
exec "$BIN" --runs "$RUNS" --min-ms "$MIN_MS" "$@"
