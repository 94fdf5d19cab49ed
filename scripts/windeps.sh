#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Windows (mingw-w64) static libraries the cross build links: the protobuf-c runtime
# and cmocka, from Debian's own source packages (no vendored code, nothing but apt).
#
#   bash scripts/windeps.sh        (as root the first time: it may add a deb-src entry)
#
# Steps, each skipped when already done, so a second run does nothing:
#   1. a deb-src entry for bookworm, next to the existing deb entry (deb822 .sources files and
#      one-line sources.list are both read), then apt-get update;
#   2. apt-get source protobuf-c cmocka into third_party/src/ (ignored by git);
#   3. x86_64-w64-mingw32-gcc builds protobuf-c/protobuf-c.c into libprotobuf-c.a and cmocka
#      (its own CMake, static) into build/windeps/{include,lib} (ignored by git).
# The toolchain file cmake/toolchain-mingw64.cmake finds them there.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
SRC=$ROOT/third_party/src
PREFIX=$ROOT/build/windeps
CC=x86_64-w64-mingw32-gcc
AR=x86_64-w64-mingw32-ar
SUITE=bookworm
# Written by this script and by no one else; its presence is not what tells whether deb-src is
# configured (the parser below is).
OUR_SOURCES=/etc/apt/sources.list.d/gameserver-deb-src.sources

log() { echo "windeps.sh: $*"; }

as_root=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
fi

# Prints "yes" when some deb-src entry for $SUITE is configured, in either format.
have_deb_src() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        if grep -Eq "^[[:space:]]*deb-src[[:space:]].*[[:space:]]$SUITE([[:space:]]|$)" "$f"; then
            echo yes
            return
        fi
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822: paragraphs separated by blank lines; an enabled one whose Types has deb-src and
        # whose Suites has the suite.
        if awk -v suite="$SUITE" 'BEGIN { RS = ""; FS = "\n"; found = 0 }
            {
                types = 0; suites = 0; enabled = 1
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^Types:/ && $i ~ /[ \t]deb-src([ \t]|$)/) types = 1
                    if ($i ~ /^Suites:/ && $i ~ ("[ \t]" suite "([ \t]|$)")) suites = 1
                    if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
                }
                if (types && suites && enabled) found = 1
            }
            END { exit found ? 0 : 1 }' "$f"; then
            echo yes
            return
        fi
    done
    echo no
}

# Prints "URI|Signed-By" of the first enabled deb entry for $SUITE with the main component, so
# the source entry uses the same mirror (or snapshot) and key as the binary packages.
deb_entry() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$SUITE" 'BEGIN { RS = ""; FS = "\n" }
            {
                uri = ""; key = ""; types = 0; suites = 0; main = 0; enabled = 1
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) types = 1
                    if ($i ~ /^Suites:/ && $i ~ ("[ \t]" suite "([ \t]|$)")) suites = 1
                    if ($i ~ /^Components:/ && $i ~ /[ \t]main([ \t]|$)/) main = 1
                    if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
                    if ($i ~ /^URIs:/) { uri = $i; sub(/^URIs:[ \t]*/, "", uri); sub(/[ \t].*/, "", uri) }
                    if ($i ~ /^Signed-By:/) { key = $i; sub(/^Signed-By:[ \t]*/, "", key) }
                }
                if (types && suites && main && enabled && uri != "") { print uri "|" key; exit }
            }' "$f"
    done | head -n 1 | grep . && return
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] URI suite components...
        sed -E 's/\[[^]]*\]//' "$f" |
            awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2 "|"; exit }'
    done | head -n 1 | grep . && return
    echo "http://deb.debian.org/debian|"
}

ensure_deb_src() {
    local entry uri key tmp
    if [ "$(have_deb_src)" = yes ]; then
        return 0
    fi
    entry=$(deb_entry)
    uri=${entry%%|*}
    key=${entry#*|}
    log "adding a deb-src entry for $SUITE ($uri) in $OUR_SOURCES"
    tmp=$(mktemp)
    {
        echo "# Added by gameserver scripts/windeps.sh: Debian source packages for the mingw build."
        echo "Types: deb-src"
        echo "URIs: $uri"
        echo "Suites: $SUITE"
        echo "Components: main"
        if [ -n "$key" ]; then
            echo "Signed-By: $key"
        fi
    } >"$tmp"
    "${as_root[@]}" install -m 0644 "$tmp" "$OUR_SOURCES"
    rm -f "$tmp"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
}

# Folder of an unpacked source package, e.g. third_party/src/cmocka-1.1.5 (empty if none).
source_dir() {
    find "$SRC" -mindepth 1 -maxdepth 1 -type d -name "$1-[0-9]*" | sort | tail -n 1
}

fetch_sources() {
    local pkg need=()
    mkdir -p "$SRC"
    for pkg in protobuf-c cmocka; do
        [ -n "$(source_dir "$pkg")" ] || need+=("$pkg")
    done
    [ "${#need[@]}" -eq 0 ] && return 0
    ensure_deb_src
    log "apt-get source ${need[*]} into $SRC"
    # If the source index was never downloaded (deb-src present but no update since), the first
    # try fails with "Unable to find a source package"; one update fixes that.
    if ! (cd "$SRC" && apt-get source "${need[@]}"); then
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
        (cd "$SRC" && apt-get source "${need[@]}")
    fi
}

build_protobuf_c() {
    local dir obj
    if [ -f "$PREFIX/lib/libprotobuf-c.a" ] && [ -f "$PREFIX/include/protobuf-c/protobuf-c.h" ]; then
        return 0
    fi
    dir=$(source_dir protobuf-c)
    log "building the protobuf-c runtime from $dir"
    obj=$(mktemp -d)
    mkdir -p "$PREFIX/lib" "$PREFIX/include/protobuf-c"
    # The runtime is one C file; the compiler (C++) is not needed: the host protoc-c generates
    # the .pb-c.c files, which are portable C.
    "$CC" -O2 -g -std=c99 -I"$dir" -c "$dir/protobuf-c/protobuf-c.c" -o "$obj/protobuf-c.o"
    rm -f "$PREFIX/lib/libprotobuf-c.a"
    "$AR" rcs "$PREFIX/lib/libprotobuf-c.a" "$obj/protobuf-c.o"
    cp "$dir/protobuf-c/protobuf-c.h" "$PREFIX/include/protobuf-c/"
    rm -rf "$obj"
}

build_cmocka() {
    local dir bld
    if [ -f "$PREFIX/lib/libcmocka.a" ] && [ -f "$PREFIX/include/cmocka.h" ]; then
        return 0
    fi
    dir=$(source_dir cmocka)
    bld=$ROOT/build/windeps-cmocka
    log "building cmocka (static) from $dir"
    rm -rf "$bld"
    cmake -S "$dir" -B "$bld" -G Ninja \
        -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchain-mingw64.cmake" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_INSTALL_PREFIX="$PREFIX" \
        -DWITH_STATIC_LIB=ON -DBUILD_SHARED_LIBS=OFF \
        -DUNIT_TESTING=OFF -DWITH_EXAMPLES=OFF -DPICKY_DEVELOPER=OFF
    # cmocka 1.1.5 names its static library target cmocka-static; only that one is built
    # (not the DLL and its import library libcmocka.dll.a).
    cmake --build "$bld" -j "${GS_JOBS:-2}" --target cmocka-static
    mkdir -p "$PREFIX/lib"
    cp "$bld/src/libcmocka-static.a" "$PREFIX/lib/libcmocka.a"
    cp "$dir/include/cmocka.h" "$PREFIX/include/"
    rm -rf "$bld"
}

command -v "$CC" >/dev/null || { log "$CC not found: run scripts/setup.sh" >&2; exit 1; }
if [ -f "$PREFIX/lib/libprotobuf-c.a" ] && [ -f "$PREFIX/lib/libcmocka.a" ] &&
    [ -f "$PREFIX/include/cmocka.h" ] && [ -f "$PREFIX/include/protobuf-c/protobuf-c.h" ]; then
    log "protobuf-c and cmocka for mingw already in $PREFIX, nothing to do"
    exit 0
fi
fetch_sources
build_protobuf_c
build_cmocka
log "protobuf-c and cmocka for mingw built in $PREFIX"
