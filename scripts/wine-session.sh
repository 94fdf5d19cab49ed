#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Starts or stops the wine session that the mingw preset's tests run in.
#
#   scripts/wine-session.sh start PREFIX   boot PREFIX (created if missing), start a persistent
#                                          wineserver for it, clear the AeDebug debugger
#   scripts/wine-session.sh stop PREFIX    stop that prefix's wineserver (wineserver -k), and
#                                          only that one
#
# Why: without a running wineserver every test boots wine (seconds each, and the first one may
# hang while the prefix is created); with the AeDebug "Debugger" value that wineboot writes,
# an unhandled exception starts winedbg, and the crashed program can exit 0. With the value gone
# the process ends with the exception code as its status (non-zero).
set -euo pipefail

WINE=/usr/lib/wine/wine64
WINESERVER=/usr/lib/wine/wineserver
AEDEBUG='HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug'

if [ "$#" -ne 2 ] || { [ "$1" != start ] && [ "$1" != stop ]; }; then
    echo "usage: wine-session.sh start|stop PREFIX" >&2
    exit 2
fi
mode=$1
mkdir -p "$2"
WINEPREFIX=$(cd "$2" && pwd)
export WINEPREFIX
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
# No display: wine must not try to open windows (wineboot shows none with -i in a console).
unset DISPLAY WAYLAND_DISPLAY

if [ "$mode" = stop ]; then
    # -k talks to the server of $WINEPREFIX only; a missing server is not an error.
    "$WINESERVER" -k 2>/dev/null || true
    "$WINESERVER" -w 2>/dev/null || true
    echo "wine-session.sh: stopped the wineserver of $WINEPREFIX"
    exit 0
fi

# The server and the services wineboot starts (services.exe, winedevice.exe, ...) outlive this
# script: their output goes to a log, never to our stdout, or a caller reading it through a pipe
# (ctest, tee, CI) would wait for them to exit.
LOG=$WINEPREFIX/session.log
# The server first, so that wineboot and every test talk to it; -p: stay up with no client.
# A server already running for this prefix (an earlier start) refuses to start twice: fine.
"$WINESERVER" -p </dev/null >>"$LOG" 2>&1 || true
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    echo "wine-session.sh: creating the wine prefix $WINEPREFIX"
    "$WINE" wineboot -i </dev/null >>"$LOG" 2>&1
else
    "$WINE" wineboot -u </dev/null >>"$LOG" 2>&1
fi
# Only delete when present: reg delete of a missing value fails.
if "$WINE" reg query "$AEDEBUG" /v Debugger </dev/null >>"$LOG" 2>&1; then
    "$WINE" reg delete "$AEDEBUG" /v Debugger /f </dev/null >>"$LOG" 2>&1
fi
if "$WINE" reg query "$AEDEBUG" /v Debugger </dev/null >>"$LOG" 2>&1; then
    echo "wine-session.sh: could not clear the AeDebug Debugger value" >&2
    exit 1
fi
echo "wine-session.sh: wineserver up for $WINEPREFIX, AeDebug debugger cleared"
