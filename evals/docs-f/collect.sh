#!/usr/bin/env bash
# Rebuild evals/docs-f/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/docs-f/collect.sh
# All ten documents are manual pages rendered to text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
OUT=evals/docs-f/docs
rm -rf "$OUT"; mkdir -p "$OUT"
MANWIDTH=80 man -P cat 7 udp 2>/dev/null | col -bx               > "$OUT/man-udp.txt"
MANWIDTH=80 man -P cat 5 nsswitch.conf 2>/dev/null | col -bx     > "$OUT/man-nsswitch-conf.txt"
MANWIDTH=80 man -P cat 7 pid_namespaces 2>/dev/null | col -bx    > "$OUT/man-pid-namespaces.txt"
MANWIDTH=80 man -P cat 8 netstat 2>/dev/null | col -bx           > "$OUT/man-netstat.txt"
MANWIDTH=80 man -P cat 5 login.defs 2>/dev/null | col -bx        > "$OUT/man-login-defs.txt"
MANWIDTH=80 man -P cat 1 fakeroot-sysv 2>/dev/null | col -bx     > "$OUT/man-fakeroot.txt"
MANWIDTH=80 man -P cat 1 ar 2>/dev/null | col -bx                > "$OUT/man-ar.txt"
MANWIDTH=80 man -P cat 1 tset 2>/dev/null | col -bx              > "$OUT/man-tset.txt"
MANWIDTH=80 man -P cat 5 Xsession 2>/dev/null | col -bx          > "$OUT/man-xsession.txt"
MANWIDTH=80 man -P cat 1 ucf 2>/dev/null | col -bx               > "$OUT/man-ucf.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
