#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration: gs-bot echo notices a damaged echo. Against tests/programs/bad_echo.c flipping one
# byte of each connection's stream, in the message header (byte 10: the sequence) and in the body
# (byte 1000), framed and raw, at 64 B and 4 KiB: the bot must exit non-zero with mismatched > 0.
# (Framed, byte 10 is in the first message's frame header or payload header, depending on size;
# either way the echo must not pass.)
# Usage: echo_bot_detects.sh BAD_ECHO BOT
set -u
bad=$1 bot=$2
runner=()
work=$(mktemp -d)
. "$(dirname "$0")/bot_lib.sh"
trap '[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; rm -rf "$work"' EXIT

for mode in framed raw; do
  raw=(); [ "$mode" = raw ] && raw=(--raw)
  for size in 64 4096; do
    for at in 10 1000; do
      start_server "$bad" --flip "$at"
      timeout 30 "$bot" echo --port "$port" --connections 4 --depth 4 --size "$size" \
        --duration 1 --json-only "${raw[@]}" >"$work/bot.out" 2>"$work/bot.err"
      brc=$?
      json=$(bot_summary)
      kill -INT "$spid"; wait "$spid" 2>/dev/null; spid=
      echo "$mode $size B, byte $at flipped: exit $brc: $json"
      [ $brc -ne 0 ] || fail "$mode $size B: gs-bot passed a stream with byte $at flipped"
      m=$(echo "$json" | grep -o '"mismatched":[0-9]*' | cut -d: -f2)
      l=$(echo "$json" | grep -o '"lost":[0-9]*' | cut -d: -f2)
      e=$(echo "$json" | grep -o '"errors":[0-9]*' | cut -d: -f2)
      [ "${m:-0}" -gt 0 ] || [ "${l:-0}" -gt 0 ] || [ "${e:-0}" -gt 0 ] ||
        fail "$mode $size B: byte $at flipped but mismatched, lost and errors are all 0"
    done
  done
done
echo "PASS: gs-bot echo fails on every flipped byte"
