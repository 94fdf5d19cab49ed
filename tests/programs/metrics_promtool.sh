#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration: gs-echo-server and gs-chat-server with --metrics, each under a short gs-bot load:
# /healthz answers 200, a live scrape of /metrics passes `promtool check metrics` (format and
# naming lint) and shows the load in its counters. Skipped (77) without promtool or curl.
# Usage: metrics_promtool.sh ECHO_SERVER CHAT_SERVER BOT
set -u
echo_server=$1 chat_server=$2 bot=$3
command -v promtool >/dev/null || { echo "SKIP: promtool not installed (Debian package prometheus)"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
runner=()
work=$(mktemp -d)
. "$(dirname "$0")/bot_lib.sh"
trap '[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; rm -rf "$work"' EXIT

metrics_port() {
  mport=$(grep -o 'metrics on 127.0.0.1:[0-9]*' "$work/server.out" | cut -d: -f2)
  [ -n "$mport" ] || fail "no 'metrics on' line"
}

# check NAME: healthz, scrape, promtool; then a counter of the load must be non-zero.
check() {
  local name=$1 counter=$2
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$mport/healthz")
  [ "$code" = 200 ] || fail "$name: /healthz answered $code"
  curl -s --max-time 5 -o "$work/$name.prom" "http://127.0.0.1:$mport/metrics" || fail "$name: scrape failed"
  promtool check metrics <"$work/$name.prom" >"$work/$name.lint" 2>&1 || { cat "$work/$name.lint"; fail "$name: promtool check metrics failed"; }
  [ -s "$work/$name.lint" ] && { cat "$work/$name.lint"; fail "$name: promtool lint findings"; }
  grep -qE "^$counter(\{[^}]*\})? [1-9]" "$work/$name.prom" || fail "$name: $counter did not count the load"
  echo "$name: $(grep -c '^# TYPE' "$work/$name.prom") families, promtool clean"
}

start_server "$echo_server" --metrics 0
metrics_port
timeout 60 "$bot" echo --port "$port" --connections 20 --duration 1 --json-only >"$work/bot.out" 2>"$work/bot.err" || fail "echo bot failed"
check echo gs_net_frames_received_total
grep -q '^gs_echo_frame_size_bytes_count [1-9]' "$work/echo.prom" || fail "echo: frame size histogram empty"
for h in gs_net_received_frame_bytes gs_net_send_gather_buffers; do
  grep -qE "^${h}_count\{io_thread=\"0\"\} [1-9]" "$work/echo.prom" || fail "echo: $h histogram empty"
done
stop_server

start_server "$chat_server" --metrics 0
metrics_port
timeout 60 "$bot" chat --port "$port" --connections 20 --rooms 2 --rate 5 --duration 1 --json-only >"$work/bot.out" 2>"$work/bot.err" || fail "chat bot failed"
check chat gs_chat_deliveries_total
grep -q '^gs_content_job_run_seconds_count [1-9]' "$work/chat.prom" || fail "chat: job run histogram empty"
stop_server
check_no_sanitizer_report
echo "PASS: promtool check metrics on live scrapes of gs-echo-server and gs-chat-server"
