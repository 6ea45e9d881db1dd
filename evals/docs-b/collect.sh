#!/usr/bin/env bash
# Rebuild evals/docs-b/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/docs-b/collect.sh
# All ten documents are manual pages rendered to text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
OUT=evals/docs-b/docs
rm -rf "$OUT"; mkdir -p "$OUT"
MANWIDTH=80 man -P cat 7 epoll 2>/dev/null | col -bx          > "$OUT/man-epoll.txt"
MANWIDTH=80 man -P cat 7 symlink 2>/dev/null | col -bx        > "$OUT/man-symlink.txt"
MANWIDTH=80 man -P cat 7 mq_overview 2>/dev/null | col -bx    > "$OUT/man-mq_overview.txt"
MANWIDTH=80 man -P cat 7 xattr 2>/dev/null | col -bx          > "$OUT/man-xattr.txt"
MANWIDTH=80 man -P cat 5 core 2>/dev/null | col -bx           > "$OUT/man-core.txt"
MANWIDTH=80 man -P cat 5 tzfile 2>/dev/null | col -bx         > "$OUT/man-tzfile.txt"
MANWIDTH=80 man -P cat 5 os-release 2>/dev/null | col -bx     > "$OUT/man-os-release.txt"
MANWIDTH=80 man -P cat 1 flock 2>/dev/null | col -bx          > "$OUT/man-flock.txt"
MANWIDTH=80 man -P cat 8 tc-netem 2>/dev/null | col -bx       > "$OUT/man-tc-netem.txt"
MANWIDTH=80 man -P cat 8 fstrim 2>/dev/null | col -bx         > "$OUT/man-fstrim.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
