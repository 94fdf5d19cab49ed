#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration: gs-chat-server + gs-bot chat over 127.0.0.1. Passes when every bot connects and
# joins, the bot exits 0 with lost == duplicated == reordered == errors == 0 and
# delivered == expected > 0, the server stops cleanly on SIGINT, and neither program printed a
# sanitizer report (TESTPLAN F01's harness rule).
# Usage: chat_bot.sh SERVER BOT BOTS ROOMS RATE SECONDS [-- RUNNER...]
# RUNNER (e.g. scripts/wine-run.sh PREFIX) runs both programs: the mingw build runs the .exe
# files under wine this way. Their output is read with any \r removed.
set -u
server=$1 bot=$2 bots=$3 rooms=$4 rate=$5 secs=$6
shift 6
runner=()
if [ "$#" -gt 0 ] && [ "$1" = -- ]; then shift; runner=("$@"); fi
work=$(mktemp -d)
trap 'kill -9 "$spid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; echo "--- server stderr"; tail -20 "$work/server.err"; echo "--- bot stderr"; tail -20 "$work/bot.err" 2>/dev/null; exit 1; }

"${runner[@]}" "$server" --port 0 >"$work/server.out" 2>"$work/server.err" &
spid=$!
port=
for _ in $(seq 1 3000); do
  port=$(tr -d '\r' 2>/dev/null <"$work/server.out" | grep -o 'listening on 127.0.0.1:[0-9]*' | cut -d: -f2)
  [ -n "$port" ] && break
  kill -0 "$spid" 2>/dev/null || fail "server exited before listening"
  sleep 0.01
done
[ -n "$port" ] || fail "server did not print its port within 30 s"

timeout 60 "${runner[@]}" "$bot" chat --port "$port" --connections "$bots" --rooms "$rooms" --rate "$rate" \
  --duration "$secs" --json-only >"$work/bot.out" 2>"$work/bot.err"
brc=$?
json=$(tr -d '\r' <"$work/bot.out" | tail -1)
echo "bot: $json"
[ $brc -eq 0 ] || fail "gs-bot exited $brc"
for key in lost duplicated reordered errors; do
  echo "$json" | grep -q "\"$key\":0[,}]" || fail "$key is not 0"
done
for key in connected joined; do
  echo "$json" | grep -q "\"$key\":$bots[,}]" || fail "$key is not $bots"
done
delivered=$(echo "$json" | grep -o '"delivered":[0-9]*' | cut -d: -f2)
expected=$(echo "$json" | grep -o '"expected":[0-9]*' | cut -d: -f2)
[ -n "$delivered" ] && [ -n "$expected" ] || fail "no delivered/expected in the summary"
[ "$delivered" -gt 0 ] || fail "nothing was delivered"
[ "$delivered" -eq "$expected" ] || fail "delivered $delivered != expected $expected"

kill -INT "$spid"
for _ in $(seq 1 1500); do kill -0 "$spid" 2>/dev/null || break; sleep 0.01; done
kill -0 "$spid" 2>/dev/null && fail "server still running 15 s after SIGINT"
wait "$spid"; src=$?
[ $src -eq 0 ] || fail "server exited $src"
tr -d '\r' <"$work/server.out" | grep -q 'stopped' || fail "server did not report a clean stop"
if grep -qE 'Sanitizer|runtime error' "$work/server.out" "$work/server.err" "$work/bot.out" \
  "$work/bot.err"; then
  fail "sanitizer report"
fi
echo "PASS: chat, $bots bots, $rooms rooms, $rate chats/s each, ${secs}s"
