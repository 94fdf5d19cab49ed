#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration: gs-echo-server + gs-bot echo over 127.0.0.1, framed or raw. Passes when the bot
# exits 0 with lost == mismatched == duplicated == awaiting == 0, the server stops cleanly on
# SIGINT, and neither program printed a sanitizer report (docs/testing.md F01's harness rule).
# Usage: echo_bot.sh SERVER BOT MODE(framed|raw) CONNECTIONS DEPTH SIZE SECONDS [-- RUNNER...]
# RUNNER (e.g. scripts/wine-run.sh PREFIX) runs both programs: the mingw build runs the .exe
# files under wine this way.
set -u
server=$1 bot=$2 mode=$3 conns=$4 depth=$5 size=$6 secs=$7
shift 7
runner=()
if [ "$#" -gt 0 ] && [ "$1" = -- ]; then shift; runner=("$@"); fi
work=$(mktemp -d)
. "$(dirname "$0")/bot_lib.sh"
trap '[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; rm -rf "$work"' EXIT
raw=(); [ "$mode" = raw ] && raw=(--raw)

start_server "$server" "${raw[@]}"
timeout 60 "${runner[@]}" "$bot" echo --port "$port" --connections "$conns" --depth "$depth" --size "$size" \
  --duration "$secs" "${raw[@]}" >"$work/bot.out" 2>"$work/bot.err"
brc=$?
json=$(bot_summary)
echo "bot: $json"
[ $brc -eq 0 ] || fail "gs-bot exited $brc"
check_echo_summary "$json" "$conns"
stop_server
check_no_sanitizer_report
echo "PASS: $mode echo, $conns connections, depth $depth, $size B, ${secs}s"
