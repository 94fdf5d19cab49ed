#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration (issue 12, item 4): where io_uring is refused, as Docker's default seccomp profile
# refuses it, every program falls back to epoll on its own. gs-chat-server and gs-bot run under
# no-uring (io_uring_setup/enter/register fail with EPERM) with the default backend (auto).
# Passes when the server logs exactly one line naming the refusal and epoll, its startup line
# names epoll, 200 bots in 10 rooms (also under no-uring) are audited with 0 lost, duplicated
# or reordered, the server stops cleanly, and asking for io_uring explicitly under the same
# filter fails with a clear error instead of running.
# Usage: no_uring_fallback.sh SERVER BOT NO_URING
set -u
# The fallback is auto's: an override from the environment (the epoll pass of scripts/test.sh)
# would hide it.
unset GS_NET_BACKEND
server=$1 bot=$2 nouring=$3
runner=("$nouring")
work=$(mktemp -d)
. "$(dirname "$0")/bot_lib.sh"
trap '[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; rm -rf "$work"' EXIT

start_server "$server"
line=$(tr -d '\r' <"$work/server.out" | grep 'listening on')
echo "server: $line"
echo "$line" | grep -q '(epoll,' || fail "the startup line does not name epoll: $line"
refusals=$(grep -c 'io_uring refused (io_uring_setup: Operation not permitted): using epoll' "$work/server.err")
[ "$refusals" -eq 1 ] || fail "expected one line naming the refusal, found $refusals"
timeout 90 "$nouring" "$bot" chat --port "$port" --connections 200 --rooms 10 --rate 2 \
  --duration 4 --json-only >"$work/bot.out" 2>"$work/bot.err"
brc=$?
json=$(bot_summary)
echo "bot: $json"
[ $brc -eq 0 ] || fail "gs-bot exited $brc"
check_chat_summary "$json" 200
grep -q 'using epoll' "$work/bot.err" || fail "the bot did not say it fell back to epoll"
stop_server

# Asked for explicitly, io_uring is not silently replaced.
"$nouring" "$server" --port 0 --backend io_uring >"$work/explicit.out" 2>"$work/explicit.err"
erc=$?
[ $erc -ne 0 ] || fail "--backend io_uring ran under a filter that refuses io_uring"
grep -q 'io_uring backend: io_uring_setup: Operation not permitted' "$work/explicit.err" ||
  fail "no clear error for --backend io_uring: $(cat "$work/explicit.err")"
check_no_sanitizer_report
echo "PASS: fell back to epoll under the seccomp filter, 200 bots audited, explicit io_uring refused"
