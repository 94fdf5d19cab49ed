#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Echo benchmark: gs-echo-server against a plain libuv echo server (bench/uv_echo.c), in the same
# invocation, server pinned to CPU 0 and gs-bot to CPU 1 (PERF-NOTES: on 2 cores compare server
# CPU per message, not msgs/s). For each cell prints msgs/s, p99 and server CPU µs per echoed
# message (utime+stime from /proc/PID/stat over the run), and the gs/uv CPU ratio.
# Then server RSS per idle connection at 10 000 connections.
# Usage: bench/echo_bench.sh [BUILD_DIR (default build/release)] [SECONDS (default 5)] [REPS (3)]
# GS_BENCH_MODES="framed raw" picks the modes; GS_BENCH_IDLE=0 skips the idle-RSS part.
set -u
B=${1:-build/release}
SECS=${2:-5}
REPS=${3:-3}
GS=$B/server/gs-echo-server UV=$B/bench/uv-echo BOT=$B/client/gs-bot IDLE=$B/bench/idle-clients
for x in "$GS" "$UV" "$BOT" "$IDLE"; do [ -x "$x" ] || { echo "missing $x: build the release preset"; exit 2; }; done
TCK=$(getconf CLK_TCK)
ulimit -n 20000 2>/dev/null

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start_server() { # kind mode port -> sets SPID
  local kind=$1 mode=$2 port=$3 raw=()
  [ "$mode" = raw ] && raw=(--raw)
  if [ "$kind" = gs ]; then taskset -c 0 "$GS" --port "$port" "${raw[@]}" >/dev/null 2>&1 &
  else taskset -c 0 "$UV" --port "$port" "${raw[@]}" >/dev/null 2>&1 & fi
  SPID=$!
  for _ in $(seq 1 200); do ss -ltn 2>/dev/null | grep -q ":$port " && return 0; sleep 0.02; done
  # ss may be missing: fall back to a short wait on /proc/net/tcp
  for _ in $(seq 1 200); do grep -qi ":$(printf %04X "$port") 00000000:0000 0A" /proc/net/tcp && return 0; sleep 0.02; done
  return 1
}

run_cell() { # kind mode conns size depth -> prints "msgs_per_s p99_us cpu_us_per_msg"
  local kind=$1 mode=$2 conns=$3 size=$4 depth=$5 port=$((7300 + RANDOM % 500)) raw=()
  [ "$mode" = raw ] && raw=(--raw)
  start_server "$kind" "$mode" "$port" || { echo "0 0 0"; return; }
  local t0; t0=$(cpu_ticks "$SPID")
  local json
  json=$(taskset -c 1 "$BOT" echo --port "$port" --connections "$conns" --size "$size" \
         --depth "$depth" --duration "$SECS" "${raw[@]}" 2>/dev/null | tail -1)
  local t1; t1=$(cpu_ticks "$SPID")
  kill -INT "$SPID"; wait "$SPID" 2>/dev/null
  local recv mps p99 lost
  recv=$(echo "$json" | grep -o '"received":[0-9]*' | cut -d: -f2)
  mps=$(echo "$json" | grep -o '"msgs_per_s":[0-9.]*' | cut -d: -f2)
  p99=$(echo "$json" | grep -o '"p99_us":[0-9.]*' | cut -d: -f2)
  lost=$(echo "$json" | grep -o '"lost":[0-9]*' | cut -d: -f2)
  [ "${lost:-1}" = 0 ] || echo "WARNING: $kind $mode $conns $size $depth lost=$lost" >&2
  awk -v r="${recv:-0}" -v d=$((t1 - t0)) -v tck="$TCK" -v m="${mps:-0}" -v p="${p99:-0}" \
    'BEGIN { printf "%.0f %.0f %.3f\n", m, p, (r > 0 ? d / tck * 1e6 / r : 0) }'
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "# echo benchmark: $SECS s per run, median of $REPS runs, server on CPU 0, bot on CPU 1"
echo "# mode conns size depth | gs msgs/s p99us cpu_us/msg | uv msgs/s p99us cpu_us/msg | cpu gs/uv"
for mode in ${GS_BENCH_MODES:-framed raw}; do
  for conns in 100 1000; do
    for size in 64 4096; do
      for depth in 1 16; do
        declare -A res=()
        for kind in gs uv; do
          : >"/tmp/gsbench.$kind"
          for _ in $(seq 1 "$REPS"); do run_cell "$kind" "$mode" "$conns" "$size" "$depth" >>"/tmp/gsbench.$kind"; done
          res[$kind]="$(awk '{print $1}' "/tmp/gsbench.$kind" | median) $(awk '{print $2}' "/tmp/gsbench.$kind" | median) $(awk '{print $3}' "/tmp/gsbench.$kind" | median)"
        done
        read -r gm gp gc <<<"${res[gs]}"; read -r um up uc <<<"${res[uv]}"
        ratio=$(awk -v a="$gc" -v b="$uc" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        printf "%-6s %5s %5s %3s | %8s %7s %7s | %8s %7s %7s | %s\n" "$mode" "$conns" "$size" "$depth" "$gm" "$gp" "$gc" "$um" "$up" "$uc" "$ratio"
      done
    done
  done
done

[ "${GS_BENCH_IDLE:-1}" = 0 ] && exit 0
echo "# idle connections: server RSS per connection at 10000"
for kind in gs uv; do
  port=$((7900 + RANDOM % 90))
  if [ "$kind" = gs ]; then taskset -c 0 "$GS" --port "$port" --max-sessions 20000 >/dev/null 2>&1 & else taskset -c 0 "$UV" --port "$port" >/dev/null 2>&1 & fi
  SPID=$!; sleep 0.5
  r0=$(awk '/VmRSS/ {print $2}' "/proc/$SPID/status")
  "$IDLE" "$port" 10000 >/tmp/gsbench.idle & CPID=$!
  for _ in $(seq 1 600); do grep -q connected /tmp/gsbench.idle && break; sleep 0.05; done
  sleep 1
  r1=$(awk '/VmRSS/ {print $2}' "/proc/$SPID/status")
  kill -INT "$CPID"; wait "$CPID" 2>/dev/null; kill -INT "$SPID"; wait "$SPID" 2>/dev/null
  awk -v k="$kind" -v a="$r0" -v b="$r1" 'BEGIN { printf "%s: RSS %d KiB -> %d KiB: %.0f bytes per idle connection\n", k, a, b, (b - a) * 1024 / 10000 }'
done
