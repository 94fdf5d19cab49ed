#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hostile-mix benchmark (issue 11; docs/benchmarks.md, "Hostile mix"): honest load alone, then the
# same honest load beside abusers (bench/abusers.c, about 5% of the connections), then beside a
# harmless CPU burner costing what the abusers' process cost (the control: how much of a drop is
# the shared 2-core machine rather than unfairness). Server pinned to CPU 0; honest client,
# abusers and burner on CPU 1. Cells are interleaved per repetition (alone, mix, control, ...),
# each run on a freshly started server; figures are medians over the repetitions.
#   echo: gs-echo-server, bench/loadgen 100 connections x 64 B x depth 16;
#         abusers 3 never-readers + 1 garbage + 1 slowloris (5 connections, 5%)
#   chat: gs-chat-server, gs-bot chat 200 bots in 10 rooms at 5 chats/s each;
#         abusers 2 never-readers, 2 chat floods, 2 join/leave loops, 2 room-list floods,
#         1 garbage, 1 slowloris (10 connections, 5%)
# Targets (per server, mix against alone): honest throughput >= 0.8x, honest p99 <= 1.2x, 0 honest
# deliveries lost. Ratios are medians over repetitions of (cell / alone run of the same
# repetition); vs_ctl is thr/p99 the same way against the control run: the abusers' effect with
# the shared core's share taken out. Also printed: server RSS (VmHWM at the end of the run), server and honest client CPU
# over the honest run, the abusers' (or burner's) CPU over theirs, other% (machine CPU used by
# none of them, e.g. another container's build: a cell with a large other% was measured on a
# shared machine and its figures are noise), the server's cut and refusal counters
# (its totals line at SIGINT) and the abusers' own counts.
# Usage: bench/hostile_mix.sh [BUILD_DIR (build/release)] [SECONDS (5)] [REPS (3)]
# Environment:
#   GS_HOSTILE_SERVERS       "echo chat"
#   GS_HOSTILE_EACH=1        also one cell per abuser kind alone (its count in the mix, with the
#                            mix's other options, e.g. --max-connect-rate), to see which hurts most
#   GS_HOSTILE_ECHO_ABUSERS  abusers' options for echo (default above); _CHAT_ABUSERS for chat
#   GS_HOSTILE_ECHO_ARGS     extra gs-echo-server options; GS_HOSTILE_CHAT_ARGS for gs-chat-server
#   GS_HOSTILE_ADDR_MAX_SESSIONS (256), _ADDR_ACCEPT_RATE (100), _ADDR_ACCEPT_BURST (256): when the
#                            server's --help mentions --addr-max-sessions, these per-address
#                            limits are passed with --addr-limit-loopback (GS_HOSTILE_ADDR=0: not)
#   GS_HOSTILE_SOURCE_BASE (127.0.0.2), GS_HOSTILE_SOURCES (1): the abusers' source addresses
#   GS_HOSTILE_ECHO_CONNS (100), GS_HOSTILE_CHAT_BOTS (200), GS_HOSTILE_CHAT_ROOMS (10),
#   GS_HOSTILE_CHAT_RATE (5), GS_HOSTILE_WARM (1: seconds the abusers run before the honest load)
#   GS_HOSTILE_OUT           results folder (default BUILD_DIR/bench-results): hostile-runs.tsv
#   GS_HOSTILE_NICE          nice level of the abusers and of the burner (default 0). On this
#                            2-core rig they share the honest client's core, which a real
#                            attacker on its own machine does not: 19 lets them use only what
#                            the honest client leaves, so the cells measure the server's
#                            fairness rather than the client's lost CPU (say which in figures)
set -u
B=${1:-build/release}
SECS=${2:-5}
REPS=${3:-3}
SERVERS=${GS_HOSTILE_SERVERS:-echo chat}
ECHO_AB=${GS_HOSTILE_ECHO_ABUSERS:---never-readers 3 --garbage 1 --slowloris 1}
CHAT_AB=${GS_HOSTILE_CHAT_ABUSERS:---never-readers 2 --chat-flood 2 --join-leave 2 --roomlist-flood 2 --garbage 1 --slowloris 1}
ECONNS=${GS_HOSTILE_ECHO_CONNS:-100}
BOTS=${GS_HOSTILE_CHAT_BOTS:-200} ROOMS=${GS_HOSTILE_CHAT_ROOMS:-10} RATE=${GS_HOSTILE_CHAT_RATE:-5}
WARM=${GS_HOSTILE_WARM:-1}
SRC=(--source-base "${GS_HOSTILE_SOURCE_BASE:-127.0.0.2}" --sources "${GS_HOSTILE_SOURCES:-1}")
OUT=${GS_HOSTILE_OUT:-$B/bench-results}
ECHO=$B/server/gs-echo-server CHAT=$B/server/gs-chat-server BOT=$B/client/gs-bot
LG=$B/bench/loadgen AB=$B/bench/abusers
for x in "$ECHO" "$CHAT" "$BOT" "$LG" "$AB"; do
  [ -x "$x" ] || { echo "hostile_mix: missing $x: build the release preset"; exit 2; }
done
command -v taskset >/dev/null || { echo "hostile_mix: taskset missing (util-linux)"; exit 2; }
TCK=$(getconf CLK_TCK)
ulimit -n 20000 2>/dev/null
mkdir -p "$OUT" || exit 2
RUNS=$OUT/hostile-runs.tsv
: >"$RUNS"
work=$(mktemp -d)
SPID='' APID=''
cleanup() {
  [ -n "$APID" ] && kill -9 "$APID" 2>/dev/null
  [ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Machine-wide idle and steal ticks (/proc/stat): a closed-loop load that leaves the CPUs idle
# is waiting on wake-ups (slow on this nested VM), not on work.
stat_ticks() { awk '$1 == "cpu" {print $5 + $6, $9; exit}' /proc/stat; }
field() { echo "$1" | grep -o "\"$2\":[0-9.]*" | head -1 | cut -d: -f2; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }
# Wait up to $2 hundredths of a second for PID $1 to exit, then kill -9 it; reap it.
reap() {
  for _ in $(seq 1 "$2"); do kill -0 "$1" 2>/dev/null || break; sleep 0.01; done
  kill -9 "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# Per-address accept limits, when the server has them (added to net/ in parallel).
addr_args() { # SERVER-BINARY -> options
  [ "${GS_HOSTILE_ADDR:-1}" = 0 ] && return
  "$1" --help 2>&1 | grep -q -- '--addr-max-sessions' || return
  echo "--addr-limit-loopback --addr-max-sessions ${GS_HOSTILE_ADDR_MAX_SESSIONS:-256}" \
    "--addr-accept-rate ${GS_HOSTILE_ADDR_ACCEPT_RATE:-100}" \
    "--addr-accept-burst ${GS_HOSTILE_ADDR_ACCEPT_BURST:-256}"
}
read -r -a ECHO_SRV <<<"$(addr_args "$ECHO") ${GS_HOSTILE_ECHO_ARGS:-}"
read -r -a CHAT_SRV <<<"$(addr_args "$CHAT") ${GS_HOSTILE_CHAT_ARGS:-}"
KINDS="never-readers chat-flood join-leave roomlist-flood garbage slowloris"
# only_kind KIND ABUSER-OPTIONS: the options with every other kind's count left out.
only_kind() {
  local -a a
  read -r -a a <<<"$2"
  local i o
  for ((i = 0; i + 1 < ${#a[@]}; i += 2)); do
    o=${a[i]#--}
    if [ "$o" = "$1" ] || [[ " $KINDS " != *" $o "* ]]; then printf '%s %s ' "${a[i]}" "${a[i + 1]}"; fi
  done
}

start_server() { # BINARY ARGS... -> SPID, PORT
  taskset -c 0 "$@" --stats --port 0 >"$work/srv.out" 2>"$work/srv.err" &
  SPID=$!
  PORT=
  for _ in $(seq 1 500); do
    PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/srv.out" 2>/dev/null | cut -d: -f2)
    [ -n "$PORT" ] && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.01
  done
  echo "hostile_mix: $1 did not start: $(tail -3 "$work/srv.err")" >&2
  return 1
}

# The server's cut and refusal counters from its totals line (non-zero ones only).
srv_counters() {
  grep 'total' "$work/srv.err" | tail -1 | grep -oE \
    '(net\.disconnects\.[a-z_]+|net\.accept_refused|net\.accept_pauses|net\.recv_pauses|net\.frames_hold_refused|chat\.rate_limited|chat\.abusers_cut|chat\.pre_login_cut|chat\.login_refused|app\.bad_id|app\.decode_failed|app\.frames_shed|app\.session_shed|[a-z_.]*addr[a-z_.]*) [0-9]+' |
    awk '$2 != 0 {printf "%s%s=%s", n++ ? " " : "", $1, $2}'
}

# The abusers' counts, one compact group per kind: kind:connects/refused/cuts/requests/replies.
ab_counts() {
  local j=$1 k g
  for k in never_readers chat_flood join_leave roomlist_flood garbage slowloris; do
    g=$(echo "$j" | grep -o "\"$k\":{[^}]*}")
    [ -n "$g" ] || continue
    printf '%s:%s/%s/%s/%s/%s ' "$k" "$(field "$g" connects)" "$(field "$g" connects_refused)" \
      "$(field "$g" cuts)" "$(field "$g" requests_sent)" "$(field "$g" replies_read)"
  done
}

pct_all() { # TICKS WALL_NS -> percent of all CPUs
  awk -v t="$1" -v k="$TCK" -v w="$2" -v n="$(nproc)" 'BEGIN {printf "%.1f", t / k / (w / 1e9) / n * 100}'
}

# run_one SERVER(echo|chat) CELL REP: one run, one line appended to $RUNS. CELL is alone, mix,
# control (burner at $BURN %) or a kind name (that kind alone, its count in the mix).
run_one() {
  local srv=$1 cell=$2 rep=$3 bin args ab mode cmd extra=()
  if [ "$srv" = echo ]; then
    bin=$ECHO args=("${ECHO_SRV[@]}") ab=$ECHO_AB mode=echo
    cmd=("$LG" --connections "$ECONNS" --size 64 --depth 16 --duration "$SECS")
  else
    bin=$CHAT args=("${CHAT_SRV[@]}") ab=$CHAT_AB mode=chat
    cmd=("$BOT" chat --connections "$BOTS" --rooms "$ROOMS" --rate "$RATE" --duration "$SECS"
      --json-only)
  fi
  case $cell in
    alone) ;;
    mix) read -r -a extra <<<"$ab" ;;
    control) extra=(--burn "$BURN") ;;
    *) read -r -a extra <<<"$(only_kind "$cell" "$ab")" ;;
  esac
  start_server "$bin" "${args[@]}" || { printf '%s\t%s\t%s\tFAILED-TO-START\n' "$srv" "$cell" "$rep" >>"$RUNS"; return; }
  : >"$work/ab.out"
  if [ "$cell" != alone ]; then
    nice -n "${GS_HOSTILE_NICE:-0}" taskset -c 1 "$AB" --mode "$mode" --port "$PORT" \
      --seconds $((SECS + 60)) "${SRC[@]}" \
      "${extra[@]}" >"$work/ab.out" 2>"$work/ab.err" &
    APID=$!
    sleep "$WARM"
  fi
  local t0 w0 out w1 t1 hwm id0 id1 st0 st1
  t0=$(cpu_ticks "$SPID")
  read -r id0 st0 <<<"$(stat_ticks)"
  w0=$(date +%s%N)
  # `times` in this subshell reports the CPU time of its only child: the honest client.
  out=$( { timeout $((SECS + 60)) taskset -c 1 "${cmd[@]}" --port "$PORT" 2>"$work/cli.err"
           echo "rc $?"; times; } )
  w1=$(date +%s%N)
  read -r id1 st1 <<<"$(stat_ticks)"
  t1=$(cpu_ticks "$SPID")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$SPID/status" 2>/dev/null)
  # A server thread's state and wait channel, kept if the run fails (a hang says where).
  for t in /proc/"$SPID"/task/*; do
    echo "$(cat "$t/comm") $(awk '{print $3}' "$t/stat") $(cat "$t/wchan")"
  done >"$work/srv.threads" 2>/dev/null
  local abj=
  if [ -n "$APID" ]; then
    kill -INT "$APID" 2>/dev/null
    reap "$APID" 500
    APID=
    abj=$(grep '^{' "$work/ab.out" | tail -1)
  fi
  kill -INT "$SPID" 2>/dev/null
  reap "$SPID" 1000
  SPID=
  local json rc ccpu thr p99 lost errs
  num() { local v; v=$(field "$json" "$1"); echo "${v:-0}"; }
  json=$(echo "$out" | grep '^{' | tail -1)
  rc=$(echo "$out" | awk '$1 == "rc" {print $2}')
  ccpu=$(echo "$out" | tail -1 | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m");
    sub("s", "", a[2]); s += a[1] * 60 + a[2] } print s }')
  if [ "$srv" = echo ]; then
    thr=$(field "$json" msgs_per_s)
    errs=$(($(num errors) + $(num mismatched)))
  else
    thr=$(field "$json" deliveries_per_s)
    errs=$(($(num errors) + $(num duplicated) + $(num reordered)))
  fi
  p99=$(field "$json" p99_us)
  lost=$(field "$json" lost)
  if [ "$rc" != 0 ] || [ -z "$json" ] || [ "${lost:-1}" != 0 ]; then
    echo "WARNING: $srv/$cell rep $rep: client exit $rc lost=${lost:-?} errors=$errs:" \
      "$(tail -2 "$work/cli.err" | tr '\n' ' ') (kept in $OUT/hostile-fail-$srv-$cell-$rep.*)" >&2
    for f in srv.out srv.err srv.threads cli.err ab.out ab.err; do
      cp "$work/$f" "$OUT/hostile-fail-$srv-$cell-$rep.$f" 2>/dev/null
    done
  fi
  local abcpu abwall
  abcpu=$(field "$abj" cpu_s) abwall=$(field "$abj" seconds)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$srv" "$cell" "$rep" \
    "${thr:-0}" "${p99:-0}" "${lost:--}" "$errs" "$rc" \
    "$(awk -v t=$((t1 - t0)) -v k="$TCK" -v w=$((w1 - w0)) 'BEGIN {printf "%.1f", t / k / (w / 1e9) * 100}')" \
    "$(awk -v c="${ccpu:-0}" -v w=$((w1 - w0)) 'BEGIN {printf "%.1f", c / (w / 1e9) * 100}')" \
    "$(awk -v c="${abcpu:-0}" -v w="${abwall:-0}" 'BEGIN {printf "%.1f", w ? c / w * 100 : 0}')" \
    "${hwm:-0}" "$(srv_counters)" "$(ab_counts "$abj")" \
    "$(pct_all $((st1 - st0)) $((w1 - w0)))" "$(pct_all $((id1 - id0)) $((w1 - w0)))" >>"$RUNS"
}

cells_of() { # SERVER -> the cells, in run order
  local c=(alone mix control) ab k
  if [ "${GS_HOSTILE_EACH:-0}" = 1 ]; then
    [ "$1" = echo ] && ab=$ECHO_AB || ab=$CHAT_AB
    for k in $KINDS; do [[ " $ab " == *" --$k "* ]] && c+=("$k"); done
  fi
  echo "${c[@]}"
}

echo "# hostile mix: $SECS s per run (abusers start $WARM s earlier), median of $REPS interleaved runs;"
echo "# server on CPU 0, honest client + abusers (or burner) on CPU 1; $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs"
echo "# echo: loadgen $ECONNS conns x 64 B x depth 16; abusers: $ECHO_AB; server: ${ECHO_SRV[*]:-defaults}"
echo "# chat: gs-bot chat $BOTS bots, $ROOMS rooms, rate $RATE; abusers: $CHAT_AB; server: ${CHAT_SRV[*]:-defaults}"
for rep in $(seq 1 "$REPS"); do
  for srv in $SERVERS; do
    BURN=0
    for cell in $(cells_of "$srv"); do
      if [ "$cell" = control ]; then
        # The burner costs what this repetition's abusers cost (their CPU over their run time).
        BURN=$(awk -F'\t' -v s="$srv" -v r="$rep" '$1 == s && $2 == "mix" && $3 == r {printf "%.0f", $11}' "$RUNS")
        [ "${BURN:-0}" -ge 1 ] 2>/dev/null || BURN=1
        [ "$BURN" -le 100 ] || BURN=100
      fi
      run_one "$srv" "$cell" "$rep"
    done
  done
done

# Medians per server and cell, ratios against that server's alone cell.
printf '\n# %-4s %-14s | %11s %9s %8s | %6s %6s %-4s %9s | %8s %5s %5s %5s %6s | %s\n' server cell \
  thr/s p99us lost+err thr_x p99_x pass vs_ctl rss_kb srv% cli% ab% other% note
for srv in $SERVERS; do
  for cell in $(cells_of "$srv"); do
    col() { awk -F'\t' -v s="$srv" -v c="$cell" -v k="$1" '$1 == s && $2 == c {print $k}' "$RUNS" | median; }
    t=$(col 4) p=$(col 5) sp=$(col 9) cp=$(col 10) ap=$(col 11) rss=$(col 12)
    lost=$(awk -F'\t' -v s="$srv" -v c="$cell" '$1 == s && $2 == c {n += ($6 == "-" ? 1e9 : $6) + $7} END {print n + 0}' "$RUNS")
    fails=$(awk -F'\t' -v s="$srv" -v c="$cell" '$1 == s && $2 == c && $8 != 0 {n++} END {print n + 0}' "$RUNS")
    # Ratios: the median over repetitions of this cell against the alone run of the same
    # repetition (interleaved neighbours), so slow drifts of a noisy machine cancel.
    pair() { # COLUMN [BASE-CELL (alone)]
      awk -F'\t' -v s="$srv" -v c="$cell" -v k="$1" -v base="${2:-alone}" '$1 == s && $2 == base {b[$3] = $k}
        $1 == s && $2 == c {v[$3] = $k} END {for (r in v) if (b[r] > 0) printf "%.4f\n", v[r] / b[r]}' "$RUNS" |
        median | awk '{printf "%.2f", $1}'
    }
    tx=$(pair 4) px=$(pair 5) cx=-
    # Against the control instead: what is left once the shared core's share is taken out.
    case $cell in alone | control) ;; *) cx="$(pair 4 control)/$(pair 5 control)" ;; esac
    # other%: CPU of the machine (both CPUs = 100) used by neither the server nor our clients:
    # /proc/stat is machine-wide, so this is other containers on the same kernel (a build next
    # door), steal, and softirq work not charged to a process (a few % here).
    oth=$(awk -F'\t' -v s="$srv" -v c="$cell" '$1 == s && $2 == c {
      printf "%.1f\n", 100 - $16 - ($9 + $10 + $11) / 2 }' "$RUNS" | median)
    pass=-
    if [ "$cell" != alone ]; then
      pass=$(awk -v t="$tx" -v p="$px" -v l="$lost" 'BEGIN {print (t >= 0.8 && p <= 1.2 && l == 0) ? "PASS" : "FAIL"}')
    fi
    note=
    awk -v c="$cp" -v s="$sp" 'BEGIN {exit !(c >= 95 && s < 90)}' && note="client-bound "
    [ "$fails" != 0 ] && note="${note}client-failed:$fails "
    printf '  %-4s %-14s | %11s %9s %8s | %6s %6s %-4s %9s | %8s %5s %5s %5s %6s | %s\n' "$srv" "$cell" "$t" \
      "$p" "$lost" "$tx" "$px" "$pass" "$cx" "$rss" "$sp" "$cp" "$ap" "$oth" "$note"
  done
done
echo
echo "# counters of the last repetition: server (totals line, non-zero) | abusers per kind:"
echo "#   connects/refused/cuts/requests/replies (refused: connect failed or closed before a byte came back)"
for srv in $SERVERS; do
  for cell in $(cells_of "$srv"); do
    awk -F'\t' -v s="$srv" -v c="$cell" -v r="$REPS" '$1 == s && $2 == c && $3 == r {
      printf "  %s %s: %s\n      abusers: %s\n", s, c, $13, ($14 == "" ? "-" : $14) }' "$RUNS"
  done
done
echo "# every run: $RUNS"
