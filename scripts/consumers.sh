#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The "consumers" step of scripts/test.sh: builds gameserver the way a packager does and uses it
# the three ways docs/tutorial.md shows, each proven over a real loopback socket:
#   1. packager build: plain `cmake -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr`
#      (no preset, no -Werror, gcc -O3), tests built; the unit tests run;
#   2. cmake --install into a temporary prefix;
#   (a) examples/dice with find_package, run by examples/consumer/dice_check.sh;
#   (b) examples/consumer/pkgconfig (Makefile + pkg-config), its echo_once run;
#   (c) examples/consumer/superbuild (add_subdirectory of this tree), dice_check.sh;
#   3. shared libraries (BUILD_SHARED_LIBS=ON): installed, SONAME and exported symbols checked
#      (only gs_ names, no gs__), (a) built against them and run, an installed program run;
#   (d) cpack -G DEB, and as root: apt-get install ./gameserver-dev_*.deb, (a) against /usr,
#      then the package removed again (skipped, and said so, when not root or when
#      gameserver-dev was already installed).
# Build folders live in build/consumers/; the prefixes in a temporary folder removed at exit.
# Environment: GS_JOBS (build parallelism, default 2).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
JOBS=${GS_JOBS:-2}
B=$ROOT/build/consumers
TMP=$(mktemp -d)
deb_installed=0
cleanup() {
    if [ "$deb_installed" -eq 1 ]; then
        echo "consumers: removing gameserver-dev again"
        env DEBIAN_FRONTEND=noninteractive apt-get remove -y gameserver-dev >/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
log() { echo "== consumers: $*"; }
fail() {
    echo "consumers: FAIL: $*" >&2
    exit 1
}

log "1. packager build (Release, -O3, GS_WERROR default off, tests on)"
cmake -S . -B "$B/pkg" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
cmake --build "$B/pkg" -j "$JOBS"
grep -q -- '-O3' "$B/pkg/compile_commands.json" || fail "the packager build is not -O3"
if grep -q -- '-Werror' "$B/pkg/compile_commands.json"; then
    fail "the default build has -Werror (GS_WERROR must default to OFF)"
fi
(cd "$B/pkg" && ctest -L unit --output-on-failure --timeout 300)

log "2. install into a temporary prefix"
P=$TMP/prefix
cmake --install "$B/pkg" --prefix "$P"
libdir=$(cd "$P" && find lib -name gameserver.pc -printf '%h\n' | head -1)
[ -n "$libdir" ] || fail "no pkgconfig folder installed under $P/lib"
for f in include/gs/base.h include/gs/net.h include/gs/packet.h include/gs/content.h \
    include/gs/version.h bin/gs-chat-server bin/gs-echo-server bin/gs-bot bin/gs-chat \
    share/doc/gameserver/README.md share/doc/gameserver/CHANGELOG.md; do
    [ -e "$P/$f" ] || fail "not installed: $f"
done
"$P/bin/gs-chat-server" --version

log "(a) examples/dice with find_package(gameserver 0.2 CONFIG)"
rm -rf "$B/a"
cmake -S examples/dice -B "$B/a" -G Ninja -DCMAKE_PREFIX_PATH="$P"
cmake --build "$B/a" -j "$JOBS"
bash examples/consumer/dice_check.sh "$B/a/dice-server"

log "(b) examples/consumer/pkgconfig: Makefile + pkg-config"
rm -rf "$B/b"
cp -r examples/consumer/pkgconfig "$B/b"
PKG_CONFIG_PATH=$P/$libdir pkg-config --modversion gameserver
PKG_CONFIG_PATH=$P/$libdir make -C "$B/b"
timeout 30 "$B/b/echo_once"

log "(c) examples/consumer/superbuild: add_subdirectory of the source tree"
rm -rf "$B/c"
cmake -S examples/consumer/superbuild -B "$B/c" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$B/c" -j "$JOBS"
bash examples/consumer/dice_check.sh "$B/c/dice/dice-server"

log "3. shared libraries (BUILD_SHARED_LIBS=ON)"
cmake -S . -B "$B/shared" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON
cmake --build "$B/shared" -j "$JOBS"
S=$TMP/shared
cmake --install "$B/shared" --prefix "$S"
for layer in base net packet content; do
    so=$(find "$S/lib" -name "libgs_$layer.so.*.*.*" | head -1)
    [ -n "$so" ] || fail "libgs_$layer.so not installed"
    soname=$(objdump -p "$so" | awk '$1 == "SONAME" { print $2 }')
    [ "$soname" = "libgs_$layer.so.0.2" ] || fail "$so: SONAME '$soname', expected libgs_$layer.so.0.2"
    syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[A-Z]$/ { print $3 }' | sed 's/@.*//')
    [ -n "$syms" ] || fail "$so exports nothing"
    bad=$(printf '%s\n' "$syms" | grep -v '^gs_' || true)
    internal=$(printf '%s\n' "$syms" | grep '^gs__' || true)
    [ -z "$bad" ] || fail "$so exports non-gs_ symbols: $(echo $bad)"
    [ -z "$internal" ] || fail "$so exports gs__ internals: $(echo $internal)"
    echo "consumers: $so: SONAME $soname, $(printf '%s\n' "$syms" | wc -l) gs_ symbols"
done
"$S/bin/gs-echo-server" --version
rm -rf "$B/a-shared"
cmake -S examples/dice -B "$B/a-shared" -G Ninja -DCMAKE_PREFIX_PATH="$S"
cmake --build "$B/a-shared" -j "$JOBS"
ldd "$B/a-shared/dice-server" | grep -q "libgs_content.so.0.2 => $S" ||
    fail "dice-server does not load the installed libgs_content.so"
bash examples/consumer/dice_check.sh "$B/a-shared/dice-server"

log "(d) Debian package"
rm -f "$B"/pkg/gameserver-dev_*.deb
(cd "$B/pkg" && cpack -G DEB)
deb=$(ls "$B"/pkg/gameserver-dev_*.deb)
dpkg-deb -f "$deb" Package Version Depends
if [ "$(id -u)" -ne 0 ]; then
    echo "consumers: (d) install of the .deb skipped: not root"
elif dpkg-query -W -f='${Status}' gameserver-dev 2>/dev/null | grep -q "ok installed"; then
    echo "consumers: (d) install of the .deb skipped: gameserver-dev already installed here"
else
    deb_installed=1
    env DEBIAN_FRONTEND=noninteractive apt-get install -y "$deb"
    rm -rf "$B/d"
    cmake -S examples/dice -B "$B/d" -G Ninja
    grep -q 'gameserver_DIR:PATH=/usr/lib' "$B/d/CMakeCache.txt" ||
        fail "(d) did not find gameserver under /usr"
    cmake --build "$B/d" -j "$JOBS"
    bash examples/consumer/dice_check.sh "$B/d/dice-server"
    pkg-config --cflags --libs gameserver
    env DEBIAN_FRONTEND=noninteractive apt-get remove -y gameserver-dev
    deb_installed=0
    if dpkg-query -W -f='${Status}' gameserver-dev 2>/dev/null | grep -q "ok installed"; then
        fail "gameserver-dev still installed after apt-get remove"
    fi
fi
log "all consumers passed"
