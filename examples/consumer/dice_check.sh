#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Proves that a dice-server built by a consumer of gameserver works: starts it on a free
# loopback port, joins as a player over a real socket (bash /dev/tcp: no client to build),
# rolls, and expects Welcome, then Rolled carrying our name; then stops it with SIGINT and
# requires a clean exit. Bounded: every wait has a deadline. Exit 0 on success, 1 otherwise.
#
#   examples/consumer/dice_check.sh PATH/TO/dice-server
#
# Frames are an 8-byte little-endian header (body length, message id) and the protobuf body;
# ids are the FNV-1a hash of the full message name (docs/protocol.md#message-ids).
set -u
server=$1
work=$(mktemp -d)
spid=
cleanup() {
    [ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
    exec 3>&- 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "dice_check: FAIL: $*" >&2
    [ -f "$work/server.out" ] && sed 's/^/  server: /' "$work/server.out" "$work/server.err" >&2
    exit 1
}

fnv1a() {
    local s=$1 h=2166136261 i c
    for ((i = 0; i < ${#s}; i++)); do
        printf -v c '%d' "'${s:i:1}"
        h=$(((h ^ c) * 16777619 & 0xFFFFFFFF))
    done
    echo "$h"
}
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) \
    $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
# send_frame NAME BODY_ESCAPED BODY_LEN
send_frame() {
    printf "$(le32 "$3")$(le32 "$(fnv1a "$1")")$2" >&3 || fail "send of $1 failed"
}
# read_frame: sets frame_len, frame_id and frame_body (as hex), or fails after 5 s.
read_frame() {
    local hdr b
    hdr=$(timeout 5 dd bs=1 count=8 status=none <&3 | od -An -v -tu1) || fail "no frame header"
    read -r -a b <<<"$hdr"
    [ "${#b[@]}" -eq 8 ] || fail "short frame header (${#b[@]} bytes)"
    frame_len=$((b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24))
    frame_id=$((b[4] | b[5] << 8 | b[6] << 16 | b[7] << 24))
    frame_body=
    if [ "$frame_len" -gt 0 ]; then
        frame_body=$(timeout 5 dd bs=1 count="$frame_len" status=none <&3 | od -An -v -tx1 |
            tr -d ' \n') || fail "no frame body"
    fi
}

"$server" 0 >"$work/server.out" 2>"$work/server.err" </dev/null &
spid=$!
port=
for _ in $(seq 1 100); do
    port=$(sed -n 's/^dice-server: listening on \([0-9][0-9]*\)\( .*\)\{0,1\}$/\1/p' "$work/server.out")
    [ -n "$port" ] && break
    kill -0 "$spid" 2>/dev/null || fail "dice-server exited before listening"
    sleep 0.1
done
[ -n "$port" ] || fail "dice-server did not print its port within 10 s"

exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to 127.0.0.1:$port"
name=consumer
send_frame dice.Join "\\x0a\\x$(printf %02x ${#name})$name" $((2 + ${#name}))
read_frame
[ "$frame_id" -eq "$(fnv1a dice.Welcome)" ] || fail "expected Welcome, got id $frame_id"
send_frame dice.Roll "" 0
# Rolled (field 1 = our name) may come after a RoundOver of the timer.
name_hex=$(printf %s "$name" | od -An -v -tx1 | tr -d ' \n')
got=0
for _ in 1 2 3 4 5; do
    read_frame
    if [ "$frame_id" -eq "$(fnv1a dice.Rolled)" ]; then
        [[ $frame_body == 0a$(printf %02x ${#name})$name_hex* ]] ||
            fail "Rolled without our name: $frame_body"
        got=1
        break
    fi
done
[ "$got" -eq 1 ] || fail "no Rolled within 5 frames"
exec 3>&-

kill -INT "$spid"
rc=0
timeout 10 tail --pid="$spid" -f /dev/null || fail "dice-server did not stop within 10 s of SIGINT"
wait "$spid" || rc=$?
spid=
[ "$rc" -eq 0 ] || fail "dice-server exited with status $rc"
grep -q '^dice-server: stopped$' "$work/server.out" || fail "no 'stopped' line"
echo "dice_check: PASS: joined, rolled and saw our roll on 127.0.0.1:$port, clean stop"
