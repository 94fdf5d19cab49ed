#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration (issue: data path v2, item 4): memory that the send limits actually bound.
# gs-echo-server with a 256 KiB hard send limit; a warm-up echo run with gs-bot touches the
# receive ring and thread caches; then 50 clients send 24-byte frames and never read, until the
# hard limit cuts each of them. Passes when
#   - every never-reader was cut (send_queue_hard), the warm-up lost nothing;
#   - the server's RSS, sampled every 20 ms, never passed idle + 50 x limit + 2 MiB (each queued
#     echo is charged its whole pooled block, so the limit bounds memory, not wire bytes; the
#     2 MiB covers the IO thread's block cache and what is being received);
#   - within 5 s of the last cut the RSS is back within 10% of the idle baseline (the pool gives
#     whole free slabs back once a second: gs_pool_trim);
#   - the server stops cleanly with no sanitizer report.
# "Idle baseline" is the RSS after the warm-up has settled: the receive ring is touched then and
# stays (its size is fixed by the config), so it belongs to the baseline.
# Usage: never_readers_rss.sh SERVER NEVER_READERS BOT
set -u
server=$1 readers=$2 bot=$3
runner=()
work=$(mktemp -d)
. "$(dirname "$0")/bot_lib.sh"
trap '[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; rm -rf "$work"' EXIT
LIMIT=262144 N=50 SLACK_KB=2048

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$spid/status" 2>/dev/null || echo 0; }

# Receive backpressure off: this test is about the memory the hard limit bounds, so the
# never-readers must reach it (with the pause on they are held below it instead:
# never_readers_fair.sh).
start_server "$server" --send-hard-limit "$LIMIT" --send-soft-limit off --recv-pause-bytes off
timeout 60 "$bot" echo --port "$port" --connections "$N" --size 1024 --depth 16 --duration 1 \
  --json-only >"$work/bot.out" 2>"$work/bot.err" || fail "warm-up gs-bot failed"
check_echo_summary "$(bot_summary)" "$N"
sleep 2.5 # two trims
idle=$(rss_kb)
[ "$idle" -gt 0 ] || fail "cannot read the server's RSS"

"$readers" "$port" "$N" 30 >"$work/readers.out" 2>&1 &
rpid=$!
peak=$idle
while kill -0 "$rpid" 2>/dev/null; do
  r=$(rss_kb)
  [ "$r" -gt "$peak" ] && peak=$r
  sleep 0.02
done
wait "$rpid"
rrc=$?
cat "$work/readers.out"
[ $rrc -eq 0 ] || fail "not every never-reader was cut (exit $rrc)"
bound=$((idle + N * LIMIT / 1024 + SLACK_KB))
echo "RSS: idle ${idle} KiB, peak ${peak} KiB, bound ${bound} KiB (idle + $N x $((LIMIT / 1024)) KiB + ${SLACK_KB} KiB)"
[ "$peak" -le "$bound" ] || fail "RSS peak ${peak} KiB over the bound ${bound} KiB"

back=0
for _ in $(seq 1 50); do
  r=$(rss_kb)
  if [ $((r * 10)) -le $((idle * 11)) ]; then back=1; break; fi
  sleep 0.1
done
echo "RSS after the cuts: ${r} KiB (idle ${idle} KiB)"
[ $back -eq 1 ] || fail "RSS ${r} KiB did not return to within 10% of ${idle} KiB in 5 s"
stop_server
tr -d '\r' <"$work/server.err" | grep -q "send_queue_hard $N" || fail "the server did not cut $N sessions by the hard limit"
check_no_sanitizer_report
echo "PASS: $N never-readers cut at a $LIMIT-byte limit, RSS bounded and returned"
