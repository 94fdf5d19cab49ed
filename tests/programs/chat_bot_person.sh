#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration (issue 11 item 12): gs-bot chat in a room a person is already in. Carol (gs-chat,
# fed through a fifo) joins room-0 before the bots and chats while they run; the bots must
# accept her in their JoinReply, leave her chats out of their audit (counted as "foreign"), and
# still pass every rule of chat_bot.sh.
# Usage: chat_bot_person.sh SERVER BOT CLIENT
set -u
server=$1 bot=$2 client=$3
runner=()
work=$(mktemp -d)
cpid=
. "$(dirname "$0")/bot_lib.sh"
trap 'exec 3>&- 2>/dev/null; [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; [ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null; rm -rf "$work"' EXIT
wait_for() { # file pattern: up to 5 s
  for _ in $(seq 1 500); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.01; done
  return 1
}

start_server "$server"
mkfifo "$work/carol.in"
timeout 60 "$client" --port "$port" <"$work/carol.in" >"$work/carol.out" 2>"$work/carol.err" &
cpid=$!
exec 3>"$work/carol.in"
printf '/nick carol\n/join room-0\n' >&3
wait_for "$work/carol.out" "* joined room-0" || fail "carol did not join"

timeout 60 "$bot" chat --port "$port" --connections 20 --rooms 2 --rate 5 --duration 3 \
  --json-only >"$work/bot.out" 2>"$work/bot.err" &
bpid=$!
# Carol chats while the bots do (after they joined: she sees them arrive).
wait_for "$work/carol.out" "* b0i joined room-0" || fail "carol did not see the last bot of room-0 (b0i) join"
printf 'hello bots\nstill here\n' >&3
wait "$bpid"
brc=$?
json=$(bot_summary)
echo "bot: $json"
[ $brc -eq 0 ] || fail "gs-bot exited $brc"
check_chat_summary "$json" 20
echo "$json" | grep -q '"foreign":0[,}]' && fail "the bots saw none of carol's chats"
exec 3>&-
wait "$cpid"
cpid=
stop_server
check_no_sanitizer_report
echo "PASS: bots shared room-0 with a person"
