#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# On-demand chat soak (docs/testing.md D02 chat_soak; not run by scripts/test.sh or CI): the
# release gs-chat-server under gs-bot chat for an hour by default, the server's RSS and open
# descriptors sampled into a CSV, and a verdict at the end. Passes when
#   - the bot exits 0 with lost == duplicated == reordered == errors == 0, every bot connected
#     and joined, delivered == expected > 0 (tests/programs/bot_lib.sh, check_chat_summary);
#   - the RSS is flat: the largest sample from the 25% mark to the end is at most the sample at
#     the 25% mark x 1.10 + 2 MiB (docs/testing.md, "Soak" says why those numbers);
#   - the server's descriptors return to their count before the bots came, within 10 s of the
#     bots leaving, and the server stops cleanly on SIGINT.
#
# Usage: scripts/soak.sh [--minutes N] [--bots N] [--rooms N] [--rate N] [--interval S]
#                        [--out DIR]
#   defaults: 60 minutes, 500 bots, 20 rooms, 2 chats/s per bot, a sample every 10 s, results in
#   build/soak/<date-time>/ (rss.csv: seconds,rss_kib,fds; bot.json; server.out/err; verdict).
# Environment: GS_JOBS build parallelism (default 2).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$PWD

minutes=60 bots=500 rooms=20 rate=2 interval=10 out=
usage() { sed -n '16,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ "$#" -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --bots) bots=$2; shift 2 ;;
    --rooms) rooms=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "soak.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
for v in minutes bots rooms rate interval; do
  case "${!v}" in
    '' | *[!0-9]* | 0) echo "soak.sh: --$v wants a positive integer, not '${!v}'" >&2; exit 2 ;;
  esac
done
secs=$((minutes * 60))
[ "$secs" -ge $((4 * interval)) ] || { echo "soak.sh: the run needs at least 4 samples" >&2; exit 2; }

# The release build (scripts/run.sh builds the same); a no-op when it is up to date.
echo "soak.sh: building the release preset"
{ [ -f build/release/CMakeCache.txt ] || cmake --preset release >/dev/null; } &&
  cmake --build --preset release -j "${GS_JOBS:-2}" --target gs-chat-server gs-bot >/dev/null ||
  { echo "soak.sh: release build failed"; exit 1; }
server=$ROOT/build/release/server/gs-chat-server
bot=$ROOT/build/release/client/gs-bot

work=${out:-$ROOT/build/soak/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$work" || exit 1
runner=()
. "$ROOT/tests/programs/bot_lib.sh"
bpid=
trap '[ -n "$bpid" ] && kill -9 "$bpid" 2>/dev/null; [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null' EXIT

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$spid/status" 2>/dev/null || echo 0; }
fds() { find "/proc/$spid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

start_server "$server"
fds_idle=$(fds)
echo "soak.sh: $bots bots in $rooms rooms, $rate chats/s each, $minutes min; server pid $spid" \
  "port $port; results in $work"
timeout $((secs + 300)) "$bot" chat --port "$port" --connections "$bots" --rooms "$rooms" \
  --rate "$rate" --duration "$secs" --json-only >"$work/bot.out" 2>"$work/bot.err" &
bpid=$!

# A sample at 0 s and every interval while the bot chats; the bot's drain (up to 5 s) and
# goodbye come after its duration and are not part of the steady state.
echo "seconds,rss_kib,fds" >"$work/rss.csv"
start=$SECONDS
next=0
while kill -0 "$bpid" 2>/dev/null; do
  t=$((SECONDS - start))
  if [ "$t" -ge "$next" ] && [ "$t" -le "$secs" ]; then
    echo "$t,$(rss_kib),$(fds)" >>"$work/rss.csv"
    [ $((next % 300)) -eq 0 ] && [ "$next" -gt 0 ] &&
      echo "soak.sh: ${t}s: RSS $(rss_kib) KiB, $(fds) fds"
    next=$((next + interval))
  fi
  sleep 1
done
wait "$bpid"
brc=$?
bpid=
json=$(bot_summary)
cp "$work/bot.out" "$work/bot.json"
echo "bot: $json"
[ $brc -eq 0 ] || fail "gs-bot exited $brc"
check_chat_summary "$json" "$bots"

# Descriptors back to the idle count once the bots are gone.
fds_end=$(fds)
for _ in $(seq 1 100); do
  fds_end=$(fds)
  [ "$fds_end" -le "$fds_idle" ] && break
  sleep 0.1
done
[ "$fds_end" -le "$fds_idle" ] || fail "server holds $fds_end descriptors, $fds_idle before the bots"

# RSS: the sample at the 25% mark against the largest from there on; the slope of a least-squares
# line over the same window is printed for information (KiB per minute).
read -r r25 late_max slope n < <(awk -F, -v q=$((secs / 4)) '
  NR > 1 && $1 >= q { if (!seen) { r25 = $2; seen = 1 } if ($2 > m) m = $2;
                      n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
  END { d = n * sxx - sx * sx; s = d > 0 ? (n * sxy - sx * sy) / d * 60 : 0;
        printf "%d %d %.1f %d\n", r25, m, s, n }' "$work/rss.csv")
first=$(awk -F, 'NR == 2 {print $2}' "$work/rss.csv")
last=$(tail -n 1 "$work/rss.csv" | cut -d, -f2)
bound=$((r25 * 110 / 100 + 2048))
delivered=$(echo "$json" | grep -o '"delivered":[0-9]*' | cut -d: -f2)
stop_server
check_no_sanitizer_report

{
  echo "soak: $bots bots, $rooms rooms, $rate chats/s each, $minutes min, $delivered deliveries audited"
  echo "soak: lost 0, duplicated 0, reordered 0, errors 0"
  echo "soak: RSS KiB: start $first, at 25% $r25, max after 25% $late_max (bound $bound)," \
    "end $last; slope after 25% $slope KiB/min over $n samples"
  echo "soak: fds: idle $fds_idle, after the bots $fds_end"
} | tee "$work/verdict"
if [ "$late_max" -gt "$bound" ]; then
  echo "soak: FAIL: RSS grew after warm-up: $late_max KiB > $r25 KiB x 1.10 + 2048 KiB" | tee -a "$work/verdict"
  exit 1
fi
echo "soak: PASS" | tee -a "$work/verdict"
