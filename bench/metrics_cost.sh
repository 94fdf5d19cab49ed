#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cost of --metrics on the hot paths (issue 14, item 6): gs-echo-server (driven by bench/loadgen,
# 100 connections, 64 B, depth 16) and gs-chat-server (gs-bot chat, 200 bots, 10 rooms, 10/s),
# each run with metrics off and on (on: scraped once a second by curl, like Prometheus), the
# runs interleaved (off, on, off, on, ...). Server on CPU 0, client on CPU 1 (taskset). Per run:
# server CPU ns per message (utime+stime from /proc/PID/stat around the client's run / echoes
# or deliveries); printed: the median of each and the ratio on/off (1.00 = no cost), and the
# ratio of the fastest runs (less sensitive to other load on a shared machine).
# Usage: bench/metrics_cost.sh [BUILD_DIR (build/release)] [SECONDS (5)] [REPS (5)]
# Environment: GS_BENCH_KINDS, default "echo chat".
set -u
B=${1:-build/release}
SECS=${2:-5}
REPS=${3:-5}
ECHO=$B/server/gs-echo-server CHAT=$B/server/gs-chat-server BOT=$B/client/gs-bot LG=$B/bench/loadgen
for x in "$ECHO" "$CHAT" "$BOT" "$LG"; do [ -x "$x" ] || { echo "missing $x: build the release preset"; exit 2; }; done
command -v curl >/dev/null || { echo "metrics_cost: needs curl"; exit 2; }
TCK=$(getconf CLK_TCK)
work=$(mktemp -d)
SPID= CPID=
trap '[ -n "$SPID" ] && kill -9 $SPID 2>/dev/null; [ -n "$CPID" ] && kill $CPID 2>/dev/null; rm -rf "$work"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field() { echo "$1" | grep -o "\"$2\":[0-9.]*" | cut -d: -f2; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
least() { sort -g | head -1; }
start() { # metrics(0|1) binary args... -> SPID, PORT, MPORT
  local m=$1
  shift
  local extra=()
  [ "$m" = 1 ] && extra=(--metrics 0)
  taskset -c 0 "$@" "${extra[@]}" --port 0 >"$work/srv.out" 2>"$work/srv.err" &
  SPID=$!
  PORT=
  for _ in $(seq 1 500); do
    PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/srv.out" 2>/dev/null | cut -d: -f2)
    [ -n "$PORT" ] && break
    sleep 0.01
  done
  [ -n "$PORT" ] || { echo "server did not start"; exit 1; }
  MPORT=$(grep -o 'metrics on 127.0.0.1:[0-9]*' "$work/srv.out" | cut -d: -f2)
  if [ -n "$MPORT" ]; then
    # The scraper shares the client's CPU: Prometheus runs on another machine, and here it must
    # not preempt the server it measures.
    (while :; do taskset -c 1 curl -s -o /dev/null "http://127.0.0.1:$MPORT/metrics"; sleep 1; done) &
    CPID=$!
  fi
}
stop() {
  [ -n "$CPID" ] && kill "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null
  CPID=
  kill -INT "$SPID"
  wait "$SPID" 2>/dev/null
  SPID=
}
run() { # metrics kind -> ns per message
  local t0 t1 json n
  if [ "$2" = echo ]; then
    start "$1" "$ECHO"
    t0=$(cpu_ticks "$SPID")
    json=$(taskset -c 1 "$LG" --port "$PORT" --connections 100 --size 64 --depth 16 --duration "$SECS" 2>/dev/null | tail -1)
    t1=$(cpu_ticks "$SPID")
    n=$(field "$json" received)
  else
    start "$1" "$CHAT"
    t0=$(cpu_ticks "$SPID")
    json=$(taskset -c 1 "$BOT" chat --port "$PORT" --connections 200 --rooms 10 --rate 10 --duration "$SECS" --json-only 2>/dev/null | tail -1)
    t1=$(cpu_ticks "$SPID")
    n=$(field "$json" delivered)
  fi
  stop
  awk -v t=$((t1 - t0)) -v k="$TCK" -v n="${n:-0}" 'BEGIN {printf "%.1f", n ? t / k * 1e9 / n : 0}'
}

echo "# metrics cost: $SECS s per run, median of $REPS interleaved runs, server CPU ns per message"
printf '%-5s %12s %12s %8s %12s\n' path off_ns on_ns on/off min_on/off
for kind in ${GS_BENCH_KINDS:-echo chat}; do
  off=() on=()
  for _ in $(seq 1 "$REPS"); do
    off+=("$(run 0 $kind)")
    on+=("$(run 1 $kind)")
  done
  o=$(printf '%s\n' "${off[@]}" | median)
  m=$(printf '%s\n' "${on[@]}" | median)
  lo=$(printf '%s\n' "${off[@]}" | least)
  lm=$(printf '%s\n' "${on[@]}" | least)
  printf '%-5s %12s %12s %8s %12s   (off: %s; on: %s)\n' "$kind" "$o" "$m" \
    "$(awk -v a="$m" -v b="$o" 'BEGIN {printf "%.3f", b ? a / b : 0}')" \
    "$(awk -v a="$lm" -v b="$lo" 'BEGIN {printf "%.3f", b ? a / b : 0}')" "${off[*]}" "${on[*]}"
done
