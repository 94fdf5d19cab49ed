#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration: gs-chat-server + gs-bot chat over 127.0.0.1. Passes when every bot connects and
# joins, the bot exits 0 with lost == duplicated == reordered == errors == 0 and
# delivered == expected > 0, the server stops cleanly on SIGINT, and neither program printed a
# sanitizer report (docs/testing.md F01's harness rule).
# Usage: chat_bot.sh SERVER BOT BOTS ROOMS RATE SECONDS [-- RUNNER...]
# RUNNER (e.g. scripts/wine-run.sh PREFIX) runs both programs: the mingw build runs the .exe
# files under wine this way.
set -u
server=$1 bot=$2 bots=$3 rooms=$4 rate=$5 secs=$6
shift 6
runner=()
if [ "$#" -gt 0 ] && [ "$1" = -- ]; then shift; runner=("$@"); fi
work=$(mktemp -d)
. "$(dirname "$0")/bot_lib.sh"
trap '[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; rm -rf "$work"' EXIT

start_server "$server"
timeout 60 "${runner[@]}" "$bot" chat --port "$port" --connections "$bots" --rooms "$rooms" --rate "$rate" \
  --duration "$secs" --json-only >"$work/bot.out" 2>"$work/bot.err"
brc=$?
json=$(bot_summary)
echo "bot: $json"
[ $brc -eq 0 ] || fail "gs-bot exited $brc"
check_chat_summary "$json" "$bots"
stop_server
check_no_sanitizer_report
echo "PASS: chat, $bots bots, $rooms rooms, $rate chats/s each, ${secs}s"
