#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# User-space instructions per echoed message, counted by callgrind (repeatable run to run, unlike
# seconds on this machine): the server runs under valgrind --tool=callgrind while bench/loadgen
# (10 connections, depth 1, 64-byte messages by default) drives it for N1 and then, in a second
# server run, N2 seconds; (Ir(run 2) - Ir(run 1)) / (messages 2 - messages 1) cancels start-up and
# shutdown. The profile is dumped with callgrind_control and the server killed: stop signals are
# not delivered reliably to a server under valgrind here (its pselect emulation), on any version.
# Usage: bench/callgrind_echo.sh [BUILD_DIR (build/release)] [SERVERS ("gs gs-raw uv uv-fast")]
# Env: GS_CG_CONNS (10), GS_CG_DEPTH (1), GS_CG_SIZE (64), GS_CG_SECS ("2 4").
set -u
B=${1:-build/release}
SERVERS=${2:-gs gs-raw uv uv-fast}
CONNS=${GS_CG_CONNS:-10} DEPTH=${GS_CG_DEPTH:-1} SIZE=${GS_CG_SIZE:-64}
read -r S1 S2 <<<"${GS_CG_SECS:-2 4}"
LG=$B/bench/loadgen
command -v valgrind >/dev/null || { echo "callgrind_echo.sh: valgrind is not installed"; exit 2; }
[ -x "$LG" ] || { echo "callgrind_echo.sh: missing $LG: build the release preset"; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

server_cmd() { # name -> command line and loadgen mode
  case "$1" in
    gs) echo "$B/server/gs-echo-server --port PORT|--framed" ;;
    gs-raw) echo "$B/server/gs-echo-server --raw --port PORT|--raw" ;;
    uv) echo "$B/bench/uv-echo --port PORT|--framed" ;;
    uv-fast) echo "$B/bench/uv-fast-echo --port PORT|--raw" ;;
    *) return 1 ;;
  esac
}

# run NAME SECS -> "instructions messages"
run() {
  local spec cmd mode port out
  spec=$(server_cmd "$1") || { echo "unknown server $1" >&2; return 1; }
  port=$((7500 + RANDOM % 400))
  cmd=${spec%|*}
  mode=${spec#*|}
  out=$work/cg.$1.$2
  # shellcheck disable=SC2086
  valgrind --tool=callgrind --callgrind-out-file="$out" ${cmd/PORT/$port} >"$work/srv.log" 2>&1 &
  local spid=$!
  for _ in $(seq 1 300); do
    grep -qE "listening|port" "$work/srv.log" 2>/dev/null && ss -ltn 2>/dev/null | grep -q ":$port " && break
    sleep 0.05
  done
  local json
  json=$("$LG" --port "$port" --connections "$CONNS" --depth "$DEPTH" --size "$SIZE" \
    --duration "$2" "$mode" 2>/dev/null | tail -1)
  callgrind_control -d "$spid" >/dev/null 2>&1
  for _ in $(seq 1 100); do ls "$out".* >/dev/null 2>&1 && break; sleep 0.1; done
  sleep 0.5
  kill -9 "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
  local ir msgs
  ir=$(callgrind_annotate "$(ls "$out".* | head -1)" 2>/dev/null | grep -m1 "PROGRAM TOTALS" |
    awk '{gsub(",", "", $1); print $1}')
  msgs=$(echo "$json" | grep -o '"received":[0-9]*' | cut -d: -f2)
  echo "${ir:-0} ${msgs:-0}"
}

echo "# callgrind: user-space instructions per echoed message, $CONNS connections, depth $DEPTH, $SIZE B"
echo "# server  | run1 Ir msgs | run2 Ir msgs | Ir/msg"
for s in $SERVERS; do
  read -r i1 m1 <<<"$(run "$s" "$S1")"
  read -r i2 m2 <<<"$(run "$s" "$S2")"
  awk -v s="$s" -v i1="$i1" -v m1="$m1" -v i2="$i2" -v m2="$m2" 'BEGIN {
    per = (m2 > m1) ? (i2 - i1) / (m2 - m1) : 0
    printf "%-8s | %d %d | %d %d | %.0f\n", s, i1, m1, i2, m2, per }'
done
