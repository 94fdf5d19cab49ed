#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The one command that runs the whole suite on a fresh machine: installs what is missing, then
# configures, builds and tests each preset in turn, checks formatting, and closes with
# "test.sh: N passed, N failed" where N counts steps (presets, plus "consumers" and "format").
#
# The mingw step cross-builds for Windows and runs its tests under wine64, inside a wine session
# (scripts/wine-session.sh: persistent wineserver, booted prefix in build/mingw/wineprefix,
# AeDebug debugger cleared) that is stopped again afterwards, pass or fail. It comes after debug:
# its cross-check test drives the Windows servers with the native build/debug gs-bot.
#
# Environment:
#   GS_TEST_PRESETS   steps to run, default
#                     "debug debug-epoll mingw clang asan tsan tsan-epoll consumers format"
#                     ("PRESET-epoll" runs PRESET's tests again with GS_NET_BACKEND=epoll, so
#                     every net, integration and bot test runs on both Linux backends; tests of
#                     io_uring itself skip there; "format" is scripts/check-format.sh; "consumers" is
#                     scripts/consumers.sh: the packager build, install, CMake/pkg-config/
#                     add_subdirectory consumers, shared libraries and the .deb; any other name
#                     is a preset in CMakePresets.json with configure, build and test presets)
#   GS_TEST_TIMEOUT   ctest --timeout backstop per test without its own TIMEOUT, default 300 s
#   GS_TEST_LIMIT     wall-clock limit for one preset's whole ctest run, default 900 s
#   GS_JOBS           build parallelism, default 2
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

STEPS=${GS_TEST_PRESETS:-debug debug-epoll mingw clang asan tsan tsan-epoll consumers format}
JOBS=${GS_JOBS:-2}
TEST_TIMEOUT=${GS_TEST_TIMEOUT:-300}
TEST_LIMIT=${GS_TEST_LIMIT:-900}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

# Every group: the test tools, the Windows toolchain and wine, the benchmarks' tools.
if ! bash scripts/setup.sh --all; then
    echo "test.sh: scripts/setup.sh failed"
    echo "test.sh: 0 passed, 1 failed"
    exit 1
fi

# Sanitizers of clang 14 cannot map their shadow memory when the kernel randomizes mmap with
# more than 28 bits (vm.mmap_rnd_bits = 32 on recent kernels): tsan dies with "unexpected
# memory mapping". Running the tests with address randomization off avoids it. Only done when
# needed and when the container lets us (setarch -R needs personality(ADDR_NO_RANDOMIZE)).
sanitizer_wrap=()
rnd_bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)
if [ "$rnd_bits" -gt 28 ] && setarch "$(uname -m)" -R true 2>/dev/null; then
    sanitizer_wrap=(setarch "$(uname -m)" -R)
fi

# timeout(1) moves the command to its own process group, where Ctrl-C from a terminal does not
# reach it; at a terminal keep it in the foreground group (CI has no terminal).
timeout_opts=(--kill-after=30)
if [ -t 0 ]; then
    timeout_opts+=(--foreground)
fi

run_preset() {
    local preset=$1
    local wrap=()
    [ -n "${GS_NET_BACKEND:-}" ] && echo "== test.sh: [$preset] with GS_NET_BACKEND=$GS_NET_BACKEND"
    case "$preset" in
        asan | tsan) wrap=("${sanitizer_wrap[@]}") ;;
    esac

    echo "== test.sh: [$preset] configure"
    cmake --preset "$preset" || return 1
    echo "== test.sh: [$preset] build"
    cmake --build --preset "$preset" -j "$JOBS" || return 1
    echo "== test.sh: [$preset] test"
    # Serial on purpose (no -j): integration tests use ports and the machine has two cores.
    timeout "${timeout_opts[@]}" "$TEST_LIMIT" "${wrap[@]}" \
        ctest --preset "$preset" --timeout "$TEST_TIMEOUT" || return 1
}

# The mingw preset's tests run inside a wine session for build/mingw/wineprefix, stopped (that
# prefix's wineserver only) whatever the result.
WINE_PREFIX=build/mingw/wineprefix
wine_up=0
stop_wine() {
    if [ "$wine_up" -eq 1 ]; then
        bash scripts/wine-session.sh stop "$WINE_PREFIX"
        wine_up=0
    fi
}
# Also when this script is interrupted or killed by its caller's timeout.
trap stop_wine EXIT
run_mingw() {
    local rc
    bash scripts/windeps.sh || return 1
    wine_up=1
    bash scripts/wine-session.sh start "$WINE_PREFIX" || {
        stop_wine
        return 1
    }
    run_preset mingw
    rc=$?
    stop_wine
    return $rc
}

passed=0
failed=0
failed_steps=()
results=()
for step in $STEPS; do
    start=$SECONDS
    if [ "$step" = format ]; then
        echo "== test.sh: [format] scripts/check-format.sh"
        bash scripts/check-format.sh
    elif [ "$step" = mingw ]; then
        run_mingw
    elif [ "${step%-epoll}" != "$step" ]; then
        GS_NET_BACKEND=epoll run_preset "${step%-epoll}"
    elif [ "$step" = consumers ]; then
        echo "== test.sh: [consumers] scripts/consumers.sh"
        timeout "${timeout_opts[@]}" "$TEST_LIMIT" bash scripts/consumers.sh
    else
        run_preset "$step"
    fi
    rc=$?
    elapsed=$((SECONDS - start))
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        results+=("  $step: ok (${elapsed}s)")
    else
        failed=$((failed + 1))
        failed_steps+=("$step")
        results+=("  $step: FAILED (${elapsed}s)")
    fi
    echo "== test.sh: [$step] $([ "$rc" -eq 0 ] && echo ok || echo FAILED) in ${elapsed}s"
done

echo "== test.sh: summary"
printf '%s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
    echo "test.sh: failed: ${failed_steps[*]}"
fi
echo "test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
