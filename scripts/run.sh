#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The one command that sets up, builds (release preset) and runs the chat server.
#
#   bash scripts/run.sh [--bots] [--echo] [--port N] [-- SERVER_ARGS...]
#
# Without --bots gs-chat-server runs in the foreground until Ctrl-C (connect with
# build/release/client/gs-chat --port N). With --bots (or GS_BOTS=1) the server runs in the
# background, gs-bot chat drives it for 10 s (200 bots in 10 rooms), the server is stopped with
# SIGINT, and the script exits with the bot's status. --echo runs gs-echo-server (and echo bots).
# Environment: GS_PORT (default 7000), GS_BOTS=1, GS_JOBS (build parallelism, default 2).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PORT=${GS_PORT:-7000}
BOTS=${GS_BOTS:-0}
JOBS=${GS_JOBS:-2}
server_args=()
ECHO=0
while [ "$#" -gt 0 ]; do
    case "$1" in
        --bots) BOTS=1 ;;
        --echo) ECHO=1 ;;
        --port)
            [ "$#" -ge 2 ] || { echo "run.sh: --port needs a value" >&2; exit 2; }
            PORT=$2
            shift
            ;;
        --) shift; server_args=("$@"); break ;;
        -h | --help)
            sed -n '3,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) echo "run.sh: unknown argument '$1' (server arguments go after --)" >&2; exit 2 ;;
    esac
    shift
done

SERVER=build/release/server/gs-chat-server
BOT=build/release/client/gs-bot
bot_args=(chat --connections 200 --rooms 10 --rate 5 --duration 10)
if [ "$ECHO" = 1 ]; then
    SERVER=build/release/server/gs-echo-server
    bot_args=(echo --connections 200 --depth 4 --size 64 --duration 10)
fi

# Only what building and running need (no test tools, no Windows toolchain): see setup.sh.
bash scripts/setup.sh --run
cmake --preset release
cmake --build --preset release -j "$JOBS"

if [ ! -x "$SERVER" ]; then
    echo "run.sh: $SERVER was not built" >&2
    exit 1
fi

if [ "$BOTS" != 1 ]; then
    echo "run.sh: starting $SERVER on port $PORT (Ctrl-C stops it)"
    exec "$SERVER" --port "$PORT" --stats "${server_args[@]}"
fi

if [ ! -x "$BOT" ]; then
    echo "run.sh: $BOT was not built" >&2
    exit 1
fi

server_pid=
server_rc=0
# Stops the background server with SIGINT (SIGKILL after 10 s) and reaps it into server_rc.
stop_server() {
    [ -n "$server_pid" ] || return 0
    local pid=$server_pid
    server_pid=
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "run.sh: server did not stop within 10 s of SIGINT, killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null && server_rc=0 || server_rc=$?
}
trap stop_server EXIT

# True once something listens on TCP port $1 (IPv4 or IPv6). Reads /proc instead of connecting,
# so the server sees no extra connection.
listening() {
    local hex
    hex=$(printf ':%04X' "$1")
    awk -v p="$hex" 'NR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
        END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

if listening "$PORT"; then
    echo "run.sh: port $PORT is already in use (set GS_PORT or --port)" >&2
    exit 1
fi

echo "run.sh: starting $SERVER on port $PORT in the background"
"$SERVER" --port "$PORT" --stats "${server_args[@]}" </dev/null &
server_pid=$!

for _ in $(seq 1 100); do
    listening "$PORT" && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        wait "$server_pid" && rc=0 || rc=$?
        server_pid=
        echo "run.sh: server exited with status $rc before listening" >&2
        exit 1
    fi
    sleep 0.1
done
if ! listening "$PORT"; then
    echo "run.sh: server is not listening on port $PORT after 10 s" >&2
    exit 1
fi

echo "run.sh: running $BOT against port $PORT"
bot_rc=0
"$BOT" "${bot_args[@]}" --port "$PORT" || bot_rc=$?

stop_server
trap - EXIT
echo "run.sh: server exited with status $server_rc, bot with status $bot_rc"
exit "$bot_rc"
