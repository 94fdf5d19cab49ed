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
. "$(dirname "$0")/bot_lib.sh"
trap '[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; rm -rf "$work"' EXIT

echo_run() {
  local mode=$1 conns=200 depth=4 size=64 secs=3 raw=()
  [ "$mode" = raw ] && raw=(--raw)
  start_server "$echo_server" "${raw[@]}"
  timeout 90 "$bot" echo --port "$port" --connections "$conns" --depth "$depth" --size "$size" \
    --duration "$secs" "${raw[@]}" >"$work/bot.out" 2>"$work/bot.err"
  brc=$?
  json=$(bot_summary)
  echo "bot ($mode echo against wine): $json"
  [ $brc -eq 0 ] || fail "gs-bot exited $brc"
  check_echo_summary "$json" "$conns"
  stop_server
  echo "PASS: $mode echo under wine, $conns connections, depth $depth, $size B, ${secs}s"
}

chat_run() {
  local bots=100 rooms=10 rate=5 secs=3
  start_server "$chat_server"
  timeout 90 "$bot" chat --port "$port" --connections "$bots" --rooms "$rooms" --rate "$rate" \
    --duration "$secs" --json-only >"$work/bot.out" 2>"$work/bot.err"
  brc=$?
  json=$(bot_summary)
  echo "bot (chat against wine): $json"
  [ $brc -eq 0 ] || fail "gs-bot exited $brc"
  check_chat_summary "$json" "$bots"
  stop_server
  echo "PASS: chat under wine, $bots bots, $rooms rooms, $rate chats/s each, ${secs}s"
}

echo_run framed
echo_run raw
chat_run
