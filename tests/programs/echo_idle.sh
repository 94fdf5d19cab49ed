#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration (issue 11 item 6): gs-echo-server closes idle connections by default, so idle
# connections cannot fill its session table and lock everyone out. Checks the default it
# reports (60 s: too long to wait for here), then, with the timeout at 300 ms and room for two
# sessions, that two idle connections are cut and a third client is then served.
# Usage: echo_idle.sh SERVER
set -u
server=$1
runner=()
work=$(mktemp -d)
. "$(dirname "$0")/bot_lib.sh"
trap '[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; rm -rf "$work"' EXIT

start_server "$server"
grep -q 'idle timeout 60000 ms' "$work/server.out" || fail "no idle timeout by default"
stop_server

start_server "$server" --idle-timeout-ms 300 --max-sessions 2
exec 3<>"/dev/tcp/127.0.0.1/$port" 4<>"/dev/tcp/127.0.0.1/$port"
# Both say nothing: the server must close them (cat ends at EOF; timeout would exit 124).
timeout 5 cat <&3 >/dev/null || fail "idle connection 1 was not closed"
timeout 5 cat <&4 >/dev/null || fail "idle connection 2 was not closed"
exec 3<&- 4<&-
# Their slots are free again: a frame (length 1, message id 7, body "A") comes back.
exec 5<>"/dev/tcp/127.0.0.1/$port"
printf '\001\000\000\000\007\000\000\000A' >&5
got=$(timeout 5 head -c 9 <&5 | od -An -tx1 | tr -d ' \n')
exec 5<&-
[ "$got" = "010000000700000041" ] || fail "third client not echoed (got '$got')"
stop_server
echo "PASS: idle connections cut by default (60 s) and at 300 ms; their slots reused"
