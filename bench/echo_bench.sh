#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Echo benchmark (docs/benchmarks.md#echo-benchmark-four-servers-two-clients): four servers, each
# driven by two clients, server pinned to CPU 0 and client to CPU 1 (taskset).
#   servers: gs-framed (gs-echo-server), gs-raw (gs-echo-server --raw), ep-framed and ep-raw (the
#            same with --backend epoll; not in the default list), uv-framed (bench/uv_echo.c,
#            a framed libuv echo written the way a user would), uv-fast (bench/uv_fast_echo.c, the
#            fast raw libuv echo: shared read buffer, uv_try_write first)
#   clients: loadgen (bench/loadgen.c, independent epoll client) and bot (gs-bot echo)
# Cells: connections x size x depth. Repetitions are interleaved (rep 1 of every server and
# client, then rep 2, ...) and each figure is the median over the repetitions. Per run: msgs/s
# and p99 (the client's summary), server CPU µs per message (server utime+stime from
# /proc/PID/stat around the client's run / messages received), and server and client CPU% over
# the client's lifetime (the client's utime+stime from bash's `times` in the subshell that ran
# it). A cell is "client-bound" when the client is at >= 95% and the server < 90%: its figures
# say how fast the client is, not the server.
# Efficiency ratios = baseline CPU per message / gs CPU per message: > 1 means gs is cheaper
# (the issue's "gs >= 1.15x uv-echo framed" is a ratio of 1.15 here).
# Then, unless GS_BENCH_IDLE=0, server RSS per idle connection at 10 000 connections.
# Usage: bench/echo_bench.sh [BUILD_DIR (build/release)] [SECONDS (5)] [REPS (3)]
# Environment (space-separated lists):
#   GS_BENCH_SERVERS  default "gs-framed gs-raw uv-framed uv-fast"
#   GS_BENCH_CLIENTS  default "loadgen bot"
#   GS_BENCH_CONNS    default "100 1000";  GS_BENCH_SIZES "64 4096";  GS_BENCH_DEPTHS "1 16"
#   GS_BENCH_OUT      results folder, default BUILD_DIR/bench-results: runs.tsv (every run),
#                     echo.tsv (medians), ratios.tsv, echo-plot.dat
#   GS_BENCH_PLOT     PNG of server CPU per message per cell, loadgen client (default
#                     GS_BENCH_OUT/echo.png); skipped with a note when gnuplot is missing
#   GS_BENCH_IDLE     0 skips the idle-RSS part
set -u
B=${1:-build/release}
SECS=${2:-5}
REPS=${3:-3}
SERVERS=${GS_BENCH_SERVERS:-gs-framed gs-raw uv-framed uv-fast}
CLIENTS=${GS_BENCH_CLIENTS:-loadgen bot}
CONNS=${GS_BENCH_CONNS:-100 1000}
SIZES=${GS_BENCH_SIZES:-64 4096}
DEPTHS=${GS_BENCH_DEPTHS:-1 16}
OUT=${GS_BENCH_OUT:-$B/bench-results}
PLOT=${GS_BENCH_PLOT:-$OUT/echo.png}
GS=$B/server/gs-echo-server UV=$B/bench/uv-echo UVF=$B/bench/uv-fast-echo
BOT=$B/client/gs-bot LG=$B/bench/loadgen IDLE=$B/bench/idle-clients
need=("$GS" "$IDLE")
for s in $SERVERS; do
  case $s in
    gs-framed | gs-raw | ep-framed | ep-raw) ;;
    uv-framed) need+=("$UV") ;;
    uv-fast) need+=("$UVF") ;;
    *) echo "echo_bench: unknown server '$s' (gs-framed gs-raw ep-framed ep-raw uv-framed uv-fast)"; exit 2 ;;
  esac
done
for c in $CLIENTS; do
  case $c in
    loadgen) need+=("$LG") ;;
    bot) need+=("$BOT") ;;
    *) echo "echo_bench: unknown client '$c' (loadgen bot)"; exit 2 ;;
  esac
done
for x in "${need[@]}"; do
  [ -x "$x" ] || { echo "echo_bench: missing $x: build the release preset (libuv1-dev for uv-*)"; exit 2; }
done
TCK=$(getconf CLK_TCK)
ulimit -n 20000 2>/dev/null
mkdir -p "$OUT" || exit 2
work=$(mktemp -d)
SPID=
trap '[ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null; rm -rf "$work"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field() { echo "$1" | grep -o "\"$2\":[0-9.]*" | head -1 | cut -d: -f2; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }
is_raw() { [ "$1" = gs-raw ] || [ "$1" = ep-raw ] || [ "$1" = uv-fast ]; }

start_server() { # SERVER-NAME [ARGS...] -> SPID, PORT
  local name=$1 cmd
  shift
  case $name in
    gs-framed) cmd=("$GS") ;;
    gs-raw) cmd=("$GS" --raw) ;;
    ep-framed) cmd=("$GS" --backend epoll) ;;
    ep-raw) cmd=("$GS" --backend epoll --raw) ;;
    uv-framed) cmd=("$UV") ;;
    uv-fast) cmd=("$UVF") ;;
  esac
  taskset -c 0 "${cmd[@]}" "$@" --port 0 >"$work/srv.out" 2>"$work/srv.err" &
  SPID=$!
  PORT=
  for _ in $(seq 1 500); do
    PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/srv.out" 2>/dev/null | cut -d: -f2)
    [ -n "$PORT" ] && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.01
  done
  echo "echo_bench: $name did not start: $(tail -3 "$work/srv.err")" >&2
  return 1
}

stop_server() {
  kill -INT "$SPID" 2>/dev/null
  for _ in $(seq 1 500); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.01; done
  kill -9 "$SPID" 2>/dev/null
  wait "$SPID" 2>/dev/null
  SPID=
}

# run_one REP SERVER CLIENT CONNS SIZE DEPTH: one run, appended to runs.tsv.
run_one() {
  local rep=$1 srv=$2 cli=$3 conns=$4 size=$5 depth=$6 mode=--framed raw=() cmd
  if is_raw "$srv"; then mode=--raw raw=(--raw); fi
  if [ "$cli" = loadgen ]; then
    cmd=("$LG" --connections "$conns" --size "$size" --depth "$depth" --duration "$SECS" "$mode")
  else
    cmd=("$BOT" echo --connections "$conns" --size "$size" --depth "$depth" --duration "$SECS"
      --json-only "${raw[@]}")
  fi
  start_server "$srv" || { printf '%s\tFAILED-TO-START\n' "$rep" >>"$OUT/runs.tsv"; return; }
  local t0 w0 out w1 t1
  t0=$(cpu_ticks "$SPID")
  w0=$(date +%s%N)
  # `times` in this subshell reports the CPU time of its only child: the client.
  out=$( { taskset -c 1 "${cmd[@]}" --port "$PORT" 2>"$work/cli.err"; echo "rc $?"; times; } )
  w1=$(date +%s%N)
  t1=$(cpu_ticks "$SPID")
  stop_server
  local json rc ccpu
  json=$(echo "$out" | grep '^{' | tail -1)
  rc=$(echo "$out" | awk '$1 == "rc" {print $2}')
  ccpu=$(echo "$out" | tail -1 | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m");
    sub("s", "", a[2]); s += a[1] * 60 + a[2] } print s }')
  local recv lost mism
  recv=$(field "$json" received)
  lost=$(field "$json" lost)
  mism=$(field "$json" mismatched)
  if [ "$rc" != 0 ] || [ "${lost:-1}" != 0 ] || [ "${mism:-1}" != 0 ]; then
    echo "WARNING: $srv/$cli $conns x $size x $depth rep $rep: exit $rc lost=${lost:-?}" \
      "mismatched=${mism:-?}: $(tail -2 "$work/cli.err" | tr '\n' ' ')" >&2
  fi
  awk -v rep="$rep" -v c="$conns" -v s="$size" -v d="$depth" -v cli="$cli" -v srv="$srv" \
    -v m="$(field "$json" msgs_per_s)" -v p="$(field "$json" p99_us)" -v r="${recv:-0}" \
    -v dt=$((t1 - t0)) -v tck="$TCK" -v wall=$((w1 - w0)) -v cc="${ccpu:-0}" -v rc="$rc" \
    -v lost="${lost:--}" -v mism="${mism:--}" 'BEGIN {
      secs = wall / 1e9; scpu = dt / tck
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.1f\t%.4f\t%.1f\t%.1f\t%s\t%s\t%s\n", rep, c, s, d,
        cli, srv, m, p, (r > 0 ? scpu * 1e6 / r : 0), scpu / secs * 100, cc / secs * 100,
        lost, mism, rc }' >>"$OUT/runs.tsv"
}

printf 'rep\tconns\tsize\tdepth\tclient\tserver\tmsgs_per_s\tp99_us\tcpu_us_per_msg\tserver_cpu_pct\tclient_cpu_pct\tlost\tmismatched\texit\n' >"$OUT/runs.tsv"
printf 'conns\tsize\tdepth\tclient\tserver\tmsgs_per_s\tp99_us\tcpu_us_per_msg\tserver_cpu_pct\tclient_cpu_pct\tclient_bound\tfailed_runs\n' >"$OUT/echo.tsv"
printf 'conns\tsize\tdepth\tclient\tgs_framed_vs_uv_framed\tgs_framed_vs_uv_fast\tgs_raw_vs_uv_fast\tep_framed_vs_uv_fast\tep_raw_vs_uv_fast\n' >"$OUT/ratios.tsv"

# Median of column COL (runs.tsv numbering) over the runs of one cell, client and server.
med() { awk -F'\t' -v c="$1" -v s="$2" -v d="$3" -v cli="$4" -v srv="$5" -v col="$6" \
  'NR > 1 && $2 == c && $3 == s && $4 == d && $5 == cli && $6 == srv && $7 != "" {print $col}' \
  "$OUT/runs.tsv" | median; }
failed_runs() { awk -F'\t' -v c="$1" -v s="$2" -v d="$3" -v cli="$4" -v srv="$5" \
  'NR > 1 && $2 == c && $3 == s && $4 == d && $5 == cli && $6 == srv &&
   ($12 != 0 || $13 != 0 || $14 != 0) {n++} END {print n + 0}' "$OUT/runs.tsv"; }
# Efficiency of gs against a baseline: baseline CPU/msg / gs CPU/msg, "*" if either is client-bound.
eff() { # CELL-KEY CLIENT GS-SERVER BASE-SERVER
  awk -F'\t' -v k="$1" -v cli="$2" -v g="$3" -v b="$4" '
    $1 "x" $2 "x" $3 == k && $4 == cli && $5 == g {gc = $8; gb = $11}
    $1 "x" $2 "x" $3 == k && $4 == cli && $5 == b {bc = $8; bb = $11}
    END { if (gc > 0 && bc > 0) printf "%.2f%s", bc / gc, (gb == "yes" || bb == "yes") ? "*" : "";
          else printf "-" }' "$OUT/echo.tsv"; }

echo "# echo benchmark: $SECS s per run, median of $REPS interleaved runs; server on CPU 0, client on CPU 1"
echo "# cpu_us/msg = server utime+stime / messages echoed; srv% cli% = CPU over the client's run"
echo "# client-bound: client >= 95% and server < 90% (the figures then measure the client)"
printf '# %5s %5s %5s %-7s %-9s | %9s %9s %10s %5s %5s | %s\n' conns size depth client server \
  msgs/s p99us cpu_us/msg srv% cli% note
plotcells=()
for conns in $CONNS; do
  for size in $SIZES; do
    for depth in $DEPTHS; do
      for rep in $(seq 1 "$REPS"); do
        for srv in $SERVERS; do
          for cli in $CLIENTS; do run_one "$rep" "$srv" "$cli" "$conns" "$size" "$depth"; done
        done
      done
      for cli in $CLIENTS; do
        for srv in $SERVERS; do
          m=$(med "$conns" "$size" "$depth" "$cli" "$srv" 7)
          p=$(med "$conns" "$size" "$depth" "$cli" "$srv" 8)
          c=$(med "$conns" "$size" "$depth" "$cli" "$srv" 9)
          sp=$(med "$conns" "$size" "$depth" "$cli" "$srv" 10)
          cp=$(med "$conns" "$size" "$depth" "$cli" "$srv" 11)
          f=$(failed_runs "$conns" "$size" "$depth" "$cli" "$srv")
          cb=$(awk -v s="$sp" -v c="$cp" 'BEGIN {print (c + 0 >= 95 && s + 0 < 90) ? "yes" : "no"}')
          note=
          [ "$cb" = yes ] && note="client-bound"
          [ "$f" != 0 ] && note="$note FAILED RUNS: $f"
          printf '  %5s %5s %5s %-7s %-9s | %9s %9s %10s %5s %5s | %s\n' "$conns" "$size" "$depth" \
            "$cli" "$srv" "$m" "$p" "$c" "$sp" "$cp" "$note"
          printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$conns" "$size" "$depth" "$cli" \
            "$srv" "$m" "$p" "$c" "$sp" "$cp" "$cb" "$f" >>"$OUT/echo.tsv"
        done
        k="${conns}x${size}x${depth}"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$conns" "$size" "$depth" "$cli" \
          "$(eff "$k" "$cli" gs-framed uv-framed)" "$(eff "$k" "$cli" gs-framed uv-fast)" \
          "$(eff "$k" "$cli" gs-raw uv-fast)" "$(eff "$k" "$cli" ep-framed uv-fast)" \
          "$(eff "$k" "$cli" ep-raw uv-fast)" >>"$OUT/ratios.tsv"
      done
      plotcells+=("${conns}x${size}x${depth}")
    done
  done
done

echo "# efficiency = baseline server CPU/msg / gs server CPU/msg: > 1 means gs is cheaper;"
echo "# '*': a client-bound cell took part (read it as a statement about the client)"
printf '# %5s %5s %5s %-7s | %11s %11s %11s %11s %11s\n' conns size depth client "gsF/uvF" \
  "gsF/uvFast" "gsR/uvFast" "epF/uvFast" "epR/uvFast"
tail -n +2 "$OUT/ratios.tsv" | while IFS=$'\t' read -r c s d cli a b e f g; do
  printf '  %5s %5s %5s %-7s | %11s %11s %11s %11s %11s\n' "$c" "$s" "$d" "$cli" "$a" "$b" "$e" \
    "$f" "$g"
done
echo "# results: $OUT/echo.tsv (medians), $OUT/runs.tsv (every run), $OUT/ratios.tsv"

# Plot: grouped bars per cell, one per server, loadgen client (or the first client listed).
pcli=loadgen
case " $CLIENTS " in *" loadgen "*) ;; *) pcli=${CLIENTS%% *} ;; esac
{
  printf 'cell'
  for srv in $SERVERS; do printf '\t%s' "$srv"; done
  printf '\n'
  for k in "${plotcells[@]}"; do
    printf '%s' "$(echo "$k" | awk -Fx '{printf "%s conns, %s B, depth %s", $1, $2, $3}')"
    for srv in $SERVERS; do
      v=$(awk -F'\t' -v k="$k" -v cli="$pcli" -v srv="$srv" \
        '$1 "x" $2 "x" $3 == k && $4 == cli && $5 == srv {print $8}' "$OUT/echo.tsv")
      case $v in '' | - | 0 | 0.0000) v=NaN ;; esac
      printf '\t%s' "$v"
    done
    printf '\n'
  done
} >"$OUT/echo-plot.dat"
if ! command -v gnuplot >/dev/null 2>&1; then
  echo "# plot skipped: gnuplot is not installed (apt-get install gnuplot-nox); data in $OUT/echo-plot.dat"
else
  term="pngcairo size 1280,640 font ',10'"
  gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo || term="png size 1280,640"
  nserv=$(echo $SERVERS | wc -w)
  if gnuplot <<EOF 2>"$work/gnuplot.err"; then
set terminal $term noenhanced
set output '$PLOT'
set title "Echo: server CPU per message (median of $REPS x ${SECS} s, client $pcli on CPU 1, server on CPU 0); lower is better"
set ylabel 'server CPU per message (us, log scale)'
set xlabel 'cell: connections, body size, messages in flight per connection'
set logscale y
set grid ytics
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left
set datafile missing 'NaN'
set datafile separator '\t'
set xtics rotate by -25 nomirror
plot for [i=2:$((nserv + 1))] '$OUT/echo-plot.dat' using i:xtic(1) title columnheader(i)
EOF
    echo "# plot: $PLOT"
  else
    echo "# plot failed: $(head -3 "$work/gnuplot.err")"
  fi
fi

[ "${GS_BENCH_IDLE:-1}" = 0 ] && exit 0
echo "# idle connections: server RSS per connection at 10000"
for srv in gs-framed uv-framed; do
  [ "$srv" = uv-framed ] && [ ! -x "$UV" ] && continue
  args=()
  [ "$srv" = gs-framed ] && args=(--max-sessions 20000)
  start_server "$srv" "${args[@]}" || continue
  sleep 0.5
  r0=$(awk '/VmRSS/ {print $2}' "/proc/$SPID/status")
  "$IDLE" "$PORT" 10000 >"$work/idle" &
  CPID=$!
  for _ in $(seq 1 600); do grep -q connected "$work/idle" && break; sleep 0.05; done
  sleep 1
  r1=$(awk '/VmRSS/ {print $2}' "/proc/$SPID/status")
  kill -INT "$CPID"
  wait "$CPID" 2>/dev/null
  stop_server
  awk -v k="$srv" -v a="$r0" -v b="$r1" 'BEGIN { printf "%s: RSS %d KiB -> %d KiB: %.0f bytes per idle connection\n", k, a, b, (b - a) * 1024 / 10000 }'
done
