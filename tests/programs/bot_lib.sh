# SPDX-License-Identifier: MIT
# Sourced by echo_bot.sh, chat_bot.sh and wine_crosscheck.sh: start and stop a server, and the
# pass rules of a gs-bot summary, written once. The caller sets:
#   work    a scratch folder (server.out, server.err, bot.out, bot.err go there)
#   runner  an array that runs the server (empty, or e.g. scripts/wine-run.sh PREFIX)
# Output is read with any \r removed (programs under wine write CRLF).

spid=

fail() {
  echo "FAIL: $*"
  echo "--- server stdout"; tr -d '\r' 2>/dev/null <"$work/server.out" | tail -20
  echo "--- server stderr"; tr -d '\r' 2>/dev/null <"$work/server.err" | tail -20
  echo "--- bot stderr"; tail -20 "$work/bot.err" 2>/dev/null
  exit 1
}

# start_server SERVER [ARGS...]: run it on a port the kernel picks; sets spid and port from its
# "listening on" line. 30 s covers a cold wine start.
start_server() {
  : >"$work/server.out"
  : >"$work/server.err"
  "${runner[@]}" "$@" --port 0 >"$work/server.out" 2>"$work/server.err" &
  spid=$!
  port=
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
  local src=$?
  spid=
  [ $src -eq 0 ] || fail "server exited $src"
  tr -d '\r' <"$work/server.out" | grep -q 'stopped' || fail "server did not report a clean stop"
}

# The last line of the bot's output (its JSON summary).
bot_summary() { tr -d '\r' <"$work/bot.out" | tail -1; }

# check_echo_summary JSON CONNECTIONS: lost, mismatched (an echo out of order counts there),
# duplicated, awaiting and errors all 0, every connection connected, something echoed.
check_echo_summary() {
  local json=$1 conns=$2 key
  for key in lost mismatched duplicated awaiting errors; do
    echo "$json" | grep -q "\"$key\":0[,}]" || fail "echo: $key is not 0"
  done
  echo "$json" | grep -q "\"connected\":$conns[,}]" || fail "echo: not every connection connected"
  echo "$json" | grep -q '"received":0[,}]' && fail "echo: nothing was echoed"
  return 0
}

# check_chat_summary JSON BOTS: lost, duplicated, reordered and errors all 0, every bot connected
# and joined, delivered == expected > 0.
check_chat_summary() {
  local json=$1 bots=$2 key delivered expected
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
}

# docs/testing.md F01's harness rule: no sanitizer report from either program.
check_no_sanitizer_report() {
  if grep -qE 'Sanitizer|runtime error' "$work/server.out" "$work/server.err" "$work/bot.out" \
    "$work/bot.err"; then
    fail "sanitizer report"
  fi
}
