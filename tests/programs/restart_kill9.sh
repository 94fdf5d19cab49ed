#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration (issue 11, item 4): a supervisor restarts a server at once after kill -9. Twelve
# times: start gs-echo-server on the port, check it echoes (gs-bot, 1 connection), kill -9 it and
# start the next one on the same port straight away. Each must listen (the bind retries while the
# dead server's io_uring teardown still holds its socket) and serve. Passes when all 12 do.
# Usage: restart_kill9.sh SERVER BOT
set -u
server=$1 bot=$2
runner=()
work=$(mktemp -d)
. "$(dirname "$0")/bot_lib.sh"
trap '[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; rm -rf "$work"' EXIT

start_server "$server"
fixed=$port
for i in $(seq 1 12); do
  timeout 30 "$bot" echo --port "$fixed" --connections 1 --depth 4 --duration 1 --json-only \
    >"$work/bot.out" 2>"$work/bot.err" || fail "restart $i: the server on $fixed did not echo"
  kill -9 "$spid"
  wait "$spid" 2>/dev/null
  spid=
  : >"$work/server.out"
  "$server" --port "$fixed" >"$work/server.out" 2>"$work/server.err" &
  spid=$!
  up=0
  for _ in $(seq 1 500); do
    grep -q "listening on 127.0.0.1:$fixed" "$work/server.out" && { up=1; break; }
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.01
  done
  [ $up -eq 1 ] || fail "restart $i: the new server did not listen on $fixed ($(tail -1 "$work/server.err"))"
done
stop_server
check_no_sanitizer_report
echo "PASS: 12 restarts on port $fixed right after kill -9"
