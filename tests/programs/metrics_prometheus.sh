#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration: a real Prometheus server scrapes gs-chat-server (--metrics) every second on
# loopback while gs-bot chats; afterwards Prometheus's HTTP API must report
# gs_chat_deliveries_total equal to the deliveries the bots counted. Prometheus runs with a
# config and its TSDB in a temporary folder, no remote anything, and is stopped by its PID.
# Skipped (77) without the prometheus binary or curl.
# Usage: metrics_prometheus.sh CHAT_SERVER BOT
set -u
chat_server=$1 bot=$2
command -v prometheus >/dev/null || { echo "SKIP: prometheus not installed (Debian package prometheus)"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
runner=()
work=$(mktemp -d)
. "$(dirname "$0")/bot_lib.sh"
ppid_=
cleanup() {
  [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
  [ -n "$ppid_" ] && kill -9 "$ppid_" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
pfail() { echo "--- prometheus log"; tail -20 "$work/prom.log"; fail "$@"; }

start_server "$chat_server" --metrics 0
mport=$(grep -o 'metrics on 127.0.0.1:[0-9]*' "$work/server.out" | cut -d: -f2)
[ -n "$mport" ] || fail "no 'metrics on' line"

cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: gs-chat
    static_configs:
      - targets: ['127.0.0.1:$mport']
YML

# A port nobody listens on (connect refused), tried until Prometheus binds it.
for attempt in 1 2 3 4 5; do
  pport=$((20000 + RANDOM % 40000))
  (exec 3<>"/dev/tcp/127.0.0.1/$pport") 2>/dev/null && continue
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$pport" --storage.tsdb.retention.time=1h \
    >"$work/prom.log" 2>&1 &
  ppid_=$!
  for _ in $(seq 1 300); do
    curl -sf --max-time 1 "http://127.0.0.1:$pport/-/ready" >/dev/null && break 2
    kill -0 "$ppid_" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$ppid_" 2>/dev/null
  wait "$ppid_" 2>/dev/null
  ppid_=
done
[ -n "$ppid_" ] || pfail "prometheus did not become ready"
echo "prometheus ready on 127.0.0.1:$pport, scraping 127.0.0.1:$mport"

timeout 60 "$bot" chat --port "$port" --connections 50 --rooms 5 --rate 5 --duration 3 \
  --json-only >"$work/bot.out" 2>"$work/bot.err"
brc=$?
json=$(bot_summary)
echo "bot: $json"
[ $brc -eq 0 ] || fail "gs-bot exited $brc"
check_chat_summary "$json" 50
delivered=$(echo "$json" | grep -o '"delivered":[0-9]*' | cut -d: -f2)

# The bots are done: the counter is final, and a scrape within a few seconds must show it.
query() {
  curl -s --max-time 2 "http://127.0.0.1:$pport/api/v1/query?query=gs_chat_deliveries_total" |
    grep -o '"value":\[[0-9.]*,"[0-9]*"\]' | grep -o '"[0-9]*"\]' | tr -d '"]'
}
got=
for _ in $(seq 1 150); do
  got=$(query)
  [ "$got" = "$delivered" ] && break
  sleep 0.1
done
echo "prometheus: gs_chat_deliveries_total = ${got:-none}, bots delivered $delivered"
[ "$got" = "$delivered" ] || pfail "Prometheus reports ${got:-nothing}, the bots $delivered"
up=$(curl -s --max-time 2 "http://127.0.0.1:$pport/api/v1/query?query=up" | grep -o '"value":\[[0-9.]*,"[0-9]*"\]')
echo "prometheus: up = $up"

kill -TERM "$ppid_"
for _ in $(seq 1 100); do kill -0 "$ppid_" 2>/dev/null || break; sleep 0.1; done
kill -0 "$ppid_" 2>/dev/null && pfail "prometheus still running 10 s after SIGTERM"
wait "$ppid_" 2>/dev/null
ppid_=
stop_server
check_no_sanitizer_report
echo "PASS: Prometheus scraped gs_chat_deliveries_total = $delivered, as the bots counted"
