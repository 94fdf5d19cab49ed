#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration (issue "fairness under abuse", item 1; docs/testing.md B17): gs-echo-server's
# per-address accept limits, end to end through its options. A flood of 40 reconnecting
# never-readers from 127.0.0.2 against --addr-max-sessions 8 --addr-accept-rate 20 gets at most
# 8 sessions at once and is refused at accept for the count and for the rate (both counted in
# the final stats), while an honest client from 127.0.0.1 (6 connections, within the limits that
# apply to its address too, every echo verified) runs beside it; and by default (loopback
# exempt) the same flood is not limited at all.
# Usage: addr_limits.sh SERVER NEVER_READERS LOADGEN
set -u
server=$1 readers=$2 loadgen=$3
runner=()
work=$(mktemp -d)
. "$(dirname "$0")/bot_lib.sh"
rpid=
trap '[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; [ -n "$rpid" ] && kill "$rpid" 2>/dev/null; rm -rf "$work"' EXIT

field() { echo "$1" | grep -o "\"$2\":[0-9.]*" | cut -d: -f2; }
stat() { tr -d '\r' <"$work/server.err" | grep -o "net\.$1 [0-9]*" | tail -1 | cut -d' ' -f2; }

# honest: one verified loadgen run of 6 connections from 127.0.0.1.
honest() {
  timeout 60 "$loadgen" --port "$port" --connections 6 --size 64 --depth 4 --duration 2 \
    >"$work/lg.out" 2>"$work/lg.err"
  local rc=$? json
  json=$(tr -d '\r' <"$work/lg.out" | tail -1)
  echo "loadgen: $json"
  [ $rc -eq 0 ] || fail "loadgen exited $rc: $(cat "$work/lg.err")"
  for key in mismatched lost errors; do
    [ "$(field "$json" $key)" = 0 ] || fail "loadgen: $key is not 0"
  done
}

start_server "$server" --addr-limit-loopback --addr-max-sessions 8 --addr-accept-rate 20
"$readers" "$port" 40 4 --reconnect --source 127.0.0.2 >"$work/readers.out" 2>&1 &
rpid=$!
honest
wait "$rpid" || fail "never-readers failed: $(cat "$work/readers.out")"
rpid=
echo "flood: $(cat "$work/readers.out")"
stop_server
many=$(stat accept_addr_sessions) fast=$(stat accept_addr_rate) accepts=$(stat accepts)
echo "accepts $accepts, refused for the count ${many:-missing}, for the rate ${fast:-missing}"
[ "${many:-0}" -gt 0 ] || fail "no accept was refused for addr_max_sessions"
[ "${fast:-0}" -gt 0 ] || fail "no accept was refused for addr_accept_rate"
# Everything the flood opened beyond the refused ones: 8 at first, then at most 20/s + burst 40.
[ "${accepts:-0}" -le $((8 + 8 + 40 + 20 * 6)) ] || fail "too many accepts for the limits: $accepts"

# The defaults: loopback is exempt, so the same flood is not refused at all.
start_server "$server"
"$readers" "$port" 40 1 --reconnect --source 127.0.0.2 >"$work/readers.out" 2>&1 ||
  fail "never-readers failed: $(cat "$work/readers.out")"
stop_server
refused=$(( $(stat accept_addr_sessions) + $(stat accept_addr_rate) ))
[ "$refused" -eq 0 ] || fail "loopback refused by default: $refused"
check_no_sanitizer_report
echo "PASS: the flood held to 8 sessions and the rate ($many + $fast refusals), honest client verified"
