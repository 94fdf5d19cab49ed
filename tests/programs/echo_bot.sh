#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration: gs-echo-server + gs-bot echo over 127.0.0.1, framed or raw. Passes when the bot
# exits 0 with lost == mismatched == duplicated == awaiting == 0, the server stops cleanly on
# SIGINT, and neither program printed a sanitizer report (TESTPLAN F01's harness rule).
# Usage: echo_bot.sh SERVER BOT MODE(framed|raw) CONNECTIONS DEPTH SIZE SECONDS [-- RUNNER...]
# RUNNER (e.g. scripts/wine-run.sh PREFIX) runs both programs: the mingw build runs the .exe
# files under wine this way. Their output is read with any \r removed.
set -u
server=$1 bot=$2 mode=$3 conns=$4 depth=$5 size=$6 secs=$7
shift 7
runner=()
if [ "$#" -gt 0 ] && [ "$1" = -- ]; then shift; runner=("$@"); fi
work=$(mktemp -d)
trap 'kill -9 "$spid" 2>/dev/null; rm -rf "$work"' EXIT
raw=(); [ "$mode" = raw ] && raw=(--raw)
fail() { echo "FAIL: $*"; echo "--- server stderr"; tail -20 "$work/server.err"; echo "--- bot stderr"; tail -20 "$work/bot.err" 2>/dev/null; exit 1; }

"${runner[@]}" "$server" --port 0 "${raw[@]}" >"$work/server.out" 2>"$work/server.err" &
spid=$!
port=
for _ in $(seq 1 3000); do
  port=$(tr -d '\r' 2>/dev/null <"$work/server.out" | grep -o 'listening on 127.0.0.1:[0-9]*' | cut -d: -f2)
  [ -n "$port" ] && break
  kill -0 "$spid" 2>/dev/null || fail "server exited before listening"
  sleep 0.01
done
[ -n "$port" ] || fail "server did not print its port within 30 s"

timeout 60 "${runner[@]}" "$bot" echo --port "$port" --connections "$conns" --depth "$depth" --size "$size" \
  --duration "$secs" "${raw[@]}" >"$work/bot.out" 2>"$work/bot.err"
brc=$?
json=$(tr -d '\r' <"$work/bot.out" | tail -1)
echo "bot: $json"
[ $brc -eq 0 ] || fail "gs-bot exited $brc"
for key in lost mismatched duplicated awaiting errors; do
  echo "$json" | grep -q "\"$key\":0[,}]" || fail "$key is not 0"
done
echo "$json" | grep -q "\"connected\":$conns[,}]" || fail "not every connection connected"
echo "$json" | grep -q '"received":0[,}]' && fail "nothing was echoed"

kill -INT "$spid"
for _ in $(seq 1 1500); do kill -0 "$spid" 2>/dev/null || break; sleep 0.01; done
kill -0 "$spid" 2>/dev/null && fail "server still running 15 s after SIGINT"
wait "$spid"; src=$?
[ $src -eq 0 ] || fail "server exited $src"
tr -d '\r' <"$work/server.out" | grep -q 'stopped' || fail "server did not report a clean stop"
if grep -qE 'Sanitizer|runtime error' "$work/server.err" "$work/bot.err"; then
  fail "sanitizer report"
fi
echo "PASS: $mode echo, $conns connections, depth $depth, $size B, ${secs}s"
