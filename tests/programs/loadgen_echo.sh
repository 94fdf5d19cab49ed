#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration: bench/loadgen against gs-echo-server (framed and raw) and, when built, uv-fast-echo
# (raw): loadgen must exit 0 with mismatched == lost == errors == 0, every connection connected,
# something echoed. Then against tests/programs/bad_echo.c, which flips a byte, closes, or stops
# echoing: loadgen must exit 1 and name the fault (mismatched, closed by the server, lost).
# Usage: loadgen_echo.sh LOADGEN GS_ECHO_SERVER BAD_ECHO [UV_FAST_ECHO] (CONNECTIONS 50, depth 4)
set -u
loadgen=$1 server=$2 bad=$3 uvfast=${4:-}
conns=50 depth=4 secs=1
work=$(mktemp -d)
runner=()
. "$(dirname "$0")/bot_lib.sh"
trap '[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; rm -rf "$work"' EXIT

field() { echo "$1" | grep -o "\"$2\":[0-9.]*" | cut -d: -f2; }

# good NAME SIZE LOADGEN-ARGS...: a run against the server started last must verify cleanly.
good() {
  local name=$1 size=$2 json
  shift 2
  timeout 30 "$loadgen" --port "$port" --connections "$conns" --depth "$depth" --size "$size" \
    --duration "$secs" "$@" >"$work/bot.out" 2>"$work/bot.err"
  local rc=$?
  json=$(bot_summary)
  echo "loadgen ($name, $size B): $json"
  [ $rc -eq 0 ] || fail "$name: loadgen exited $rc"
  for key in mismatched lost errors; do
    [ "$(field "$json" $key)" = 0 ] || fail "$name: $key is not 0"
  done
  [ "$(field "$json" connected)" = "$conns" ] || fail "$name: not every connection connected"
  [ "$(field "$json" received)" -gt 0 ] || fail "$name: nothing was echoed"
}

# bad FAULT-ARGS -- EXPECT-IN-STDERR JSON-KEY: loadgen must fail, say why and count it.
bad() {
  local fault=("$1" "$2") expect=$3 key=$4 json
  start_server "$bad" "${fault[@]}"
  timeout 30 "$loadgen" --port "$port" --connections 4 --depth "$depth" --size 64 --duration 1 \
    --drain 1 >"$work/bot.out" 2>"$work/bot.err"
  local rc=$?
  json=$(bot_summary)
  echo "loadgen (bad-echo ${fault[*]}): exit $rc: $json"
  [ $rc -eq 1 ] || fail "bad-echo ${fault[*]}: loadgen exited $rc, not 1"
  grep -q "$expect" "$work/bot.err" || fail "bad-echo ${fault[*]}: no '$expect' on stderr"
  [ "$(field "$json" "$key")" -gt 0 ] || fail "bad-echo ${fault[*]}: $key is 0"
  stop_server
}

start_server "$server"
good "gs framed" 64 --framed
good "gs framed" 4096 --framed
stop_server
start_server "$server" --raw
good "gs raw" 64 --raw
good "gs raw" 1000 --raw
stop_server
check_no_sanitizer_report
if [ -n "$uvfast" ]; then
  start_server "$uvfast"
  good "uv-fast-echo" 64 --raw
  stop_server
fi
bad --flip 1000 "differs at byte" mismatched
bad --close-after 5000 "closed by the server" errors
bad --stall-after 5000 "never echoed back" lost
echo "PASS: loadgen verified gs-echo-server framed and raw${uvfast:+ and uv-fast-echo}, and caught a flipped byte, a close and a stall"
