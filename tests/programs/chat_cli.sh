#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration: gs-chat, the interactive client, driven through stdin against gs-chat-server on
# 127.0.0.1. Bob joins and keeps his input open (a fifo); Alice logs in, joins, chats (once with
# terminal escape sequences in her text), whispers to Bob and lists rooms; then Bob says bye and
# his input ends. Checks both transcripts: replies, events, deliveries in order, errors as
# readable lines, and that Alice's escape sequence reaches Bob's terminal escaped, not raw.
# Usage: chat_cli.sh SERVER CLIENT
set -u
server=$1 client=$2
work=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null; kill -9 "$spid" "$bpid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; for f in alice.out bob.out server.err; do echo "--- $f"; cat "$work/$f" 2>/dev/null; done; exit 1; }
wait_for() { # file pattern: up to 5 s
  for _ in $(seq 1 500); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.01; done
  return 1
}

"$server" --port 0 >"$work/server.out" 2>"$work/server.err" &
spid=$!
wait_for "$work/server.out" "listening on" || fail "server did not start"
port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/server.out" | cut -d: -f2)

mkfifo "$work/bob.in"
timeout 30 "$client" --port "$port" <"$work/bob.in" >"$work/bob.out" 2>"$work/bob.err" &
bpid=$!
exec 3>"$work/bob.in"
printf '/nick bob\n/join lobby\n' >&3
wait_for "$work/bob.out" "* joined lobby (members: bob)" || fail "bob did not join"

printf '/nick ab\n/nick alice\n/join lobby\nhello from alice\nred \033[31malert\033[0m\n/w bob psst\n/w nobody hi\n/rooms\n/leave\n/leave\n' |
  timeout 30 "$client" --port "$port" >"$work/alice.out" 2>"$work/alice.err"
arc=$?
[ $arc -eq 0 ] || fail "alice's client exited $arc"
printf 'bye\n' >&3
exec 3>&-
wait "$bpid"; brc=$?
[ $brc -eq 0 ] || fail "bob's client exited $brc"

expect() { grep -qF -- "$2" "$work/$1" || fail "$1 lacks: $2"; }
expect alice.out '! ERROR_NICK_INVALID: too_short'
expect alice.out '* logged in as alice'
expect alice.out '* joined lobby (members: bob, alice)'
expect alice.out '[lobby] <alice> hello from alice'
expect alice.out '* whisper to bob delivered'
expect alice.out '! ERROR_NO_SUCH_USER: no such user'
expect alice.out '* rooms: lobby (2)'
expect alice.out '* left lobby'
expect alice.out '* not in a room'
expect bob.out '* alice joined lobby'
expect bob.out '[lobby] <alice> hello from alice'
expect bob.out '[lobby] <alice> red \u{001B}[31malert\u{001B}[0m'
expect bob.out '* whisper from alice: psst'
expect bob.out '* alice left lobby'
expect bob.out '[lobby] <bob> bye'
# The escape sequence never reached a terminal raw.
if grep -q $'\033' "$work/bob.out" "$work/alice.out"; then fail "a raw ESC byte was printed"; fi
# Order on bob's side: joined, chat, whisper, left, bye.
order=$(grep -n -e 'alice joined' -e 'hello from alice' -e 'whisper from' -e 'alice left' -e '<bob> bye' "$work/bob.out" | cut -d: -f1 | tr '\n' ' ')
sorted=$(echo "$order" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')
[ "$order" = "$sorted" ] || fail "bob saw events out of order: $order"

kill -INT "$spid"
for _ in $(seq 1 500); do kill -0 "$spid" 2>/dev/null || break; sleep 0.01; done
kill -0 "$spid" 2>/dev/null && fail "server still running 5 s after SIGINT"
wait "$spid" || fail "server exit status $?"
grep -q "stopped" "$work/server.out" || fail "server did not report stopped"
if grep -qE 'runtime error|Sanitizer' "$work"/*.err; then fail "sanitizer report"; fi
echo "PASS: chat_cli"
