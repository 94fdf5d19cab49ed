#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unit: PROG --version exits 0 and prints exactly one line, "NAME VERSION", where VERSION is the
# project's (passed in from CMake's PROJECT_VERSION, the one place it is set).
# Usage: version.sh NAME VERSION PROG [-- RUNNER...]   (RUNNER: the mingw build's wine-run.sh)
set -u
name=$1 version=$2 prog=$3
shift 3
runner=()
if [ "$#" -gt 0 ] && [ "$1" = -- ]; then shift; runner=("$@"); fi
out=$(timeout 30 "${runner[@]}" "$prog" --version)
rc=$?
# Windows console output ends lines with CR LF.
out=${out//$'\r'/}
if [ "$rc" -ne 0 ]; then
    echo "FAIL: $name --version exited $rc (output: '$out')"
    exit 1
fi
if [ "$out" != "$name $version" ]; then
    echo "FAIL: $name --version printed '$out', expected '$name $version'"
    exit 1
fi
echo "PASS: $out"
