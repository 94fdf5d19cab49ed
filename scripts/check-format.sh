#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks every C source and header against .clang-format (clang-format 14) and lists the files
# that differ; exits non-zero if any does. With --fix, reformats them in place instead.
# Files checked: tracked *.c/*.h plus untracked ones not ignored by .gitignore (so a new file
# is checked before it is committed), minus fuzz/corpus/.
# Environment: CLANG_FORMAT, the clang-format binary to use (default clang-format).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
fix=0
case "${1:-}" in
    --fix) fix=1 ;;
    "") ;;
    *)
        echo "usage: scripts/check-format.sh [--fix]" >&2
        exit 2
        ;;
esac

if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
    echo "check-format.sh: $CLANG_FORMAT not found (run scripts/setup.sh)" >&2
    exit 1
fi

files=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    while IFS= read -r -d '' f; do
        [ -f "$f" ] && files+=("$f")
    done < <(git ls-files -z --cached --others --exclude-standard -- '*.c' '*.h' \
        ':!:fuzz/corpus/**' | sort -zu)
else
    # Not a git checkout (e.g. an unpacked tarball): check the same kinds of files.
    while IFS= read -r -d '' f; do
        files+=("${f#./}")
    done < <(find . \( -path ./build -o -path ./.git -o -path ./fuzz/corpus \) -prune -o \
        -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)
fi

if [ "${#files[@]}" -eq 0 ]; then
    echo "check-format.sh: no C files to check"
    exit 0
fi

if [ "$fix" -eq 1 ]; then
    "$CLANG_FORMAT" -i -- "${files[@]}"
    echo "check-format.sh: reformatted ${#files[@]} file(s) in place"
    exit 0
fi

bad=()
for f in "${files[@]}"; do
    if ! "$CLANG_FORMAT" --dry-run --Werror -- "$f" >/dev/null 2>&1; then
        bad+=("$f")
    fi
done

if [ "${#bad[@]}" -ne 0 ]; then
    echo "check-format.sh: ${#bad[@]} of ${#files[@]} file(s) not formatted per .clang-format:"
    printf '  %s\n' "${bad[@]}"
    echo "check-format.sh: see the diff with: $CLANG_FORMAT FILE | diff -u FILE -"
    echo "check-format.sh: or fix them all with: bash scripts/check-format.sh --fix"
    exit 1
fi
echo "check-format.sh: ${#files[@]} file(s) formatted per .clang-format"
