#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cross-check of the Windows build: a native Linux gs-bot drives gs-echo-server.exe (framed and
# raw) and gs-chat-server.exe running under wine, over 127.0.0.1. Passes when, for each run, the
# bot exits 0 with lost == mismatched == duplicated == awaiting == errors == 0 (echo; an echo out
# of order counts as mismatched) or lost == duplicated == reordered == errors == 0 and
# delivered == expected > 0 (chat), and the server stops cleanly on SIGINT (wine turns it into
# Ctrl-C for the console control handler of tools/stop_signal_win.c).
# Exits 77 (skipped) when the native bot has not been built (build the debug preset first).
#
# Usage: wine_crosscheck.sh BOT ECHO_SERVER.exe CHAT_SERVER.exe RUNNER [RUNNER_ARGS...]
#   RUNNER: the crosscompiling emulator, e.g. scripts/wine-run.sh build/mingw/wineprefix
set -u
if [ "$#" -lt 4 ]; then
  echo "usage: wine_crosscheck.sh BOT ECHO_SERVER CHAT_SERVER RUNNER [RUNNER_ARGS...]" >&2
  exit 2
fi
bot=$1 echo_server=$2 chat_server=$3
shift 3
runner=("$@")
if [ -z "$bot" ] || [ ! -x "$bot" ]; then
  echo "SKIP: no native gs-bot at '${bot}': build the debug preset first (cmake --preset debug &&" \
    "cmake --build --preset debug), then run this test again"
  exit 77
fi

work=$(mktemp -d)
spid=
trap '[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*"
  echo "--- server stdout"; tr -d '\r' <"$work/server.out" | tail -20
  echo "--- server stderr"; tr -d '\r' <"$work/server.err" | tail -20
  echo "--- bot stderr"; tail -20 "$work/bot.err" 2>/dev/null
  exit 1
}

# Starts a Windows server under wine and sets port from its "listening on" line (CRLF output).
start_server() {
  : >"$work/server.out"
  : >"$work/server.err"
  "${runner[@]}" "$@" --port 0 >"$work/server.out" 2>"$work/server.err" &
  spid=$!
  port=
  # Wine starts a process in well under a second once its server runs; 30 s covers a cold one.
  for _ in $(seq 1 3000); do
    port=$(tr -d '\r' <"$work/server.out" | grep -o 'listening on 127.0.0.1:[0-9]*' | cut -d: -f2)
    [ -n "$port" ] && return 0
    kill -0 "$spid" 2>/dev/null || fail "server $1 exited before listening"
    sleep 0.01
  done
  fail "server $1 did not print its port within 30 s"
}

# SIGINT (Ctrl-C under wine), then a clean exit with status 0 and its "stopped" line.
stop_server() {
  kill -INT "$spid"
  for _ in $(seq 1 1500); do kill -0 "$spid" 2>/dev/null || break; sleep 0.01; done
  kill -0 "$spid" 2>/dev/null && fail "server still running 15 s after SIGINT"
  wait "$spid"
  src=$?
  spid=
  [ $src -eq 0 ] || fail "server exited $src"
  tr -d '\r' <"$work/server.out" | grep -q 'stopped' || fail "server did not report a clean stop"
}

echo_run() {
  local mode=$1 conns=200 depth=4 size=64 secs=3 raw=()
  [ "$mode" = raw ] && raw=(--raw)
  start_server "$echo_server" "${raw[@]}"
  timeout 90 "$bot" echo --port "$port" --connections "$conns" --depth "$depth" --size "$size" \
    --duration "$secs" "${raw[@]}" >"$work/bot.out" 2>"$work/bot.err"
  brc=$?
  json=$(tail -1 "$work/bot.out")
  echo "bot ($mode echo against wine): $json"
  [ $brc -eq 0 ] || fail "gs-bot exited $brc"
  for key in lost mismatched duplicated awaiting errors; do
    echo "$json" | grep -q "\"$key\":0[,}]" || fail "$mode echo: $key is not 0"
  done
  echo "$json" | grep -q "\"connected\":$conns[,}]" || fail "$mode echo: not every connection connected"
  echo "$json" | grep -q '"received":0[,}]' && fail "$mode echo: nothing was echoed"
  stop_server
  echo "PASS: $mode echo under wine, $conns connections, depth $depth, $size B, ${secs}s"
}

chat_run() {
  local bots=100 rooms=10 rate=5 secs=3
  start_server "$chat_server"
  timeout 90 "$bot" chat --port "$port" --connections "$bots" --rooms "$rooms" --rate "$rate" \
    --duration "$secs" --json-only >"$work/bot.out" 2>"$work/bot.err"
  brc=$?
  json=$(tail -1 "$work/bot.out")
  echo "bot (chat against wine): $json"
  [ $brc -eq 0 ] || fail "gs-bot exited $brc"
  for key in lost duplicated reordered errors; do
    echo "$json" | grep -q "\"$key\":0[,}]" || fail "chat: $key is not 0"
  done
  for key in connected joined; do
    echo "$json" | grep -q "\"$key\":$bots[,}]" || fail "chat: $key is not $bots"
  done
  delivered=$(echo "$json" | grep -o '"delivered":[0-9]*' | cut -d: -f2)
  expected=$(echo "$json" | grep -o '"expected":[0-9]*' | cut -d: -f2)
  [ -n "$delivered" ] && [ -n "$expected" ] || fail "chat: no delivered/expected in the summary"
  [ "$delivered" -gt 0 ] || fail "chat: nothing was delivered"
  [ "$delivered" -eq "$expected" ] || fail "chat: delivered $delivered != expected $expected"
  stop_server
  echo "PASS: chat under wine, $bots bots, $rooms rooms, $rate chats/s each, ${secs}s"
}

echo_run framed
echo_run raw
chat_run
