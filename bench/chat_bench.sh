#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chat fan-out benchmark: gs-chat-server (1 IO thread, 1 worker, pinned to CPU 0) with gs-bot chat
# (pinned to CPU 1) in rooms of 10, 100 and 500 members; and, in the same invocation, the echo
# baselines (gs-echo-server, 100 connections, 64 B, depth 16 and depth 1). Prints deliveries/s,
# p99 and server CPU per delivery (utime+stime from /proc/PID/stat over the bot run, join phase
# included) next to server CPU per echoed message and their ratios (target: echo/chat >= 3), and
# the server's counts: chats, broadcasts and encodes (one encode per broadcast), frames out and
# sendmsg calls (how many deliveries each send gathered). Each cell runs once per send delay
# (gs-chat-server --send-delay-ms: sends held up to that long so that they leave gathered).
# Usage: bench/chat_bench.sh [BUILD_DIR (build/release)] [SECONDS (5)] [REPS (3)]
# Environment: GS_BENCH_DELAYS send delays in ms, default "0 10 30"; GS_BENCH_WORKERS the chat
# server's --workers, default 1 (0: handlers on the IO thread, one server thread in all).
set -u
B=${1:-build/release}
SECS=${2:-5}
REPS=${3:-3}
DELAYS=${GS_BENCH_DELAYS:-0 10 30}
WORKERS=${GS_BENCH_WORKERS:-1}
CHAT=$B/server/gs-chat-server ECHO=$B/server/gs-echo-server BOT=$B/client/gs-bot
for x in "$CHAT" "$ECHO" "$BOT"; do [ -x "$x" ] || { echo "missing $x: build the release preset"; exit 2; }; done
TCK=$(getconf CLK_TCK)
ulimit -n 20000 2>/dev/null
work=$(mktemp -d)
trap 'kill -9 $SPID 2>/dev/null; rm -rf "$work"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
start() { # binary args... -> SPID, PORT (server prints its port)
  taskset -c 0 "$@" --port 0 >"$work/srv.out" 2>"$work/srv.err" &
  SPID=$!
  PORT=
  for _ in $(seq 1 500); do
    PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/srv.out" 2>/dev/null | cut -d: -f2)
    [ -n "$PORT" ] && return 0
    sleep 0.01
  done
  return 1
}
stop() { kill -INT "$SPID"; wait "$SPID" 2>/dev/null; }
field() { echo "$1" | grep -o "\"$2\":[0-9.]*" | cut -d: -f2; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "# chat fan-out: $SECS s per run, median of $REPS runs, server on CPU 0 (1 IO thread, --workers $WORKERS), bot on CPU 1"
echo "# baselines: gs-echo-server, 100 connections, 64 B, depth 16 and depth 1, same invocation"
echo_cpu() { # depth -> median ns per echoed message
  local runs=()
  for _ in $(seq 1 "$REPS"); do
    start "$ECHO" || { echo "echo server did not start" >&2; exit 1; }
    local t0 t1 json n
    t0=$(cpu_ticks "$SPID")
    json=$(taskset -c 1 "$BOT" echo --port "$PORT" --connections 100 --size 64 --depth "$1" \
           --duration "$SECS" --json-only 2>/dev/null | tail -1)
    t1=$(cpu_ticks "$SPID")
    stop
    n=$(field "$json" received)
    runs+=("$(awk -v t=$((t1 - t0)) -v k="$TCK" -v n="$n" 'BEGIN {printf "%.1f", n ? t / k * 1e9 / n : 0}')")
  done
  printf '%s\n' "${runs[@]}" | median
}
echo16=$(echo_cpu 16)
echo1=$(echo_cpu 1)
echo "echo: server CPU per echoed message: depth 16 ${echo16} ns, depth 1 ${echo1} ns"
echo "# size bots rooms rate delay_ms | deliveries/s  p99us cpu_ns/delivery | echo16/chat echo1/chat | frames/send | counts"
for cell in "10 1000 100 10" "100 1000 10 2" "500 500 1 1"; do
 for delay in $DELAYS; do
  read -r size bots rooms rate <<<"$cell"
  dps=() p99=() cpu=() last=
  for _ in $(seq 1 "$REPS"); do
    start "$CHAT" --io-threads 1 --workers "$WORKERS" --rate 100000 --burst 100000 --max-members 1000 \
      --send-delay-ms "$delay" || { echo "chat server did not start"; exit 1; }
    t0=$(cpu_ticks "$SPID")
    json=$(taskset -c 1 "$BOT" chat --port "$PORT" --connections "$bots" --rooms "$rooms" \
           --rate "$rate" --duration "$SECS" --json-only 2>/dev/null | tail -1)
    t1=$(cpu_ticks "$SPID")
    stop
    [ "$(field "$json" lost)" = 0 ] || echo "WARNING: lost deliveries: $json"
    d=$(field "$json" delivered)
    dps+=("$(field "$json" deliveries_per_s)")
    p99+=("$(field "$json" p99_us)")
    cpu+=("$(awk -v t=$((t1 - t0)) -v k="$TCK" -v n="$d" 'BEGIN {printf "%.1f", n ? t / k * 1e9 / n : 0}')")
    last=$(grep 'total sessions' "$work/srv.err" | tail -1)
  done
  c=$(printf '%s\n' "${cpu[@]}" | median)
  ratio() { awk -v e="$1" -v c="$c" 'BEGIN {printf "%.2f", c ? e / c : 0}'; }
  fo=$(echo "$last" | grep -oE 'frames_out [0-9]+' | cut -d' ' -f2)
  se=$(echo "$last" | grep -oE 'net\.sends [0-9]+' | cut -d' ' -f2)
  printf '%4s %5s %5s %4s %8s | %12s %6s %15s | %11s %10s | %11s | %s\n' "$size" "$bots" "$rooms" \
    "$rate" "$delay" "$(printf '%s\n' "${dps[@]}" | median)" "$(printf '%s\n' "${p99[@]}" | median)" \
    "$c" "$(ratio "$echo16")" "$(ratio "$echo1")" \
    "$(awk -v f="${fo:-0}" -v s="${se:-0}" 'BEGIN {printf "%.2f", s ? f / s : 0}')" \
    "$(echo "$last" | grep -oE '(chats|encodes|broadcasts) [0-9]*' | tr '\n' ' ')"
 done
done
