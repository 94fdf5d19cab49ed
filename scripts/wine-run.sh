#!/bin/sh
# SPDX-License-Identifier: MIT
# CMAKE_CROSSCOMPILING_EMULATOR of the mingw preset: runs one Windows program under wine64 in the
# wine prefix given first (inside the build folder), with wine's own messages off.
#
#   scripts/wine-run.sh PREFIX PROGRAM.exe [ARGS...]
#
# The exit status is the program's (wine passes it through). Start the prefix's wineserver
# first (scripts/wine-session.sh start PREFIX): otherwise each run boots wine on its own, which
# takes seconds, and a crash may open a debugger instead of failing.
set -eu
if [ "$#" -lt 2 ]; then
    echo "usage: wine-run.sh PREFIX PROGRAM [ARGS...]" >&2
    exit 2
fi
WINEPREFIX=$1
shift
export WINEPREFIX
export WINEDEBUG="${GS_WINEDEBUG:--all}"
# Never offer to install Mono or Gecko (no network, no display).
export WINEDLLOVERRIDES="mscoree,mshtml="
exec /usr/lib/wine/wine64 "$@"
