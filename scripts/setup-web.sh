#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what the chat page needs: protobufjs from the npm registry into server/chat/web/
# node_modules (npm ci, exactly as package-lock.json pins it; the build embeds it), and the
# Debian packages of the browser tests (tests/programs/ws_browser.py, ws_diff.py): chromium,
# chromium-driver, python3-selenium, python3-websockets. Safe to run again: with everything in
# place it installs nothing and says so.
#
#   bash scripts/setup-web.sh [--npm-only]
#
#   --npm-only  only npm ci (no apt-get): what the build needs, without the browser tests.
# Needs node and npm (node 20); npm ci talks to the npm registry only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
WEB=server/chat/web

npm_only=0
case "${1:-}" in
    --npm-only) npm_only=1 ;;
    "") ;;
    -h | --help)
        sed -n '3,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) echo "setup-web.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

# ---- protobufjs from npm.
if ! command -v npm >/dev/null 2>&1; then
    # A fresh Debian 12: node and npm from Debian's packages (a node already installed, from
    # Debian or elsewhere, is used as it is).
    echo "setup-web.sh: npm not found: installing Debian's nodejs and npm"
    sudo_=()
    [ "$(id -u)" -ne 0 ] && sudo_=(sudo)
    "${sudo_[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    "${sudo_[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends nodejs npm
fi
# npm ci deletes node_modules and installs again every time; skip it when node_modules was
# installed from this very lockfile (npm keeps a copy of the lock it installed from in
# node_modules/.package-lock.json) and the file the build embeds is there.
stamp=$WEB/node_modules/.setup-web.lock-sha256
want=$(sha256sum "$WEB/package-lock.json" | cut -d' ' -f1)
if [ -f "$WEB/node_modules/protobufjs/dist/protobuf.min.js" ] && [ -f "$stamp" ] &&
    [ "$(cat "$stamp")" = "$want" ]; then
    echo "setup-web.sh: $WEB/node_modules is up to date with package-lock.json"
else
    echo "setup-web.sh: npm ci in $WEB"
    # --ignore-scripts: protobufjs's postinstall only checks the versions of its optional CLI;
    # --no-audit --no-fund: no requests beyond the packages themselves.
    (cd "$WEB" && npm ci --ignore-scripts --no-audit --no-fund)
    echo "$want" >"$stamp"
fi

[ "$npm_only" -eq 1 ] && exit 0

# ---- Debian packages of the browser tests.
PACKAGES=(
    chromium            # headless browser of ws_browser.py
    chromium-driver     # chromedriver, which selenium drives
    python3-selenium    # ws_browser.py (4.8 on bookworm)
    python3-websockets  # ws_diff.py (10.4 on bookworm)
)
installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}
missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup-web.sh: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "setup-web.sh: must run as root (or have sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi
# apt-cache policy says whether apt knows a candidate; without one (no apt-get update yet)
# update once, as scripts/setup.sh does.
no_candidate=0
for pkg in "${missing[@]}"; do
    if ! apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [^(]'; then
        no_candidate=1
    fi
done
if [ "$no_candidate" -eq 1 ]; then
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
fi
echo "setup-web.sh: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
still=()
for pkg in "${missing[@]}"; do
    installed "$pkg" || still+=("$pkg")
done
if [ "${#still[@]}" -ne 0 ]; then
    echo "setup-web.sh: still missing after apt-get install: ${still[*]}" >&2
    exit 1
fi
echo "setup-web.sh: installed ${missing[*]}"
