#!/usr/bin/env bash
# Rebuild evals/heldout14/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout14/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/heldout14/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/jinja2-3.1.6.dist-info/METADATA"                      "$OUT/jinja2.md"
cp   "$SP/locate-1.1.1.dist-info/METADATA"                      "$OUT/locate.md"
cp   "$SP/bm25s-0.3.16.dist-info/METADATA"                      "$OUT/bm25s.md"
cp   "$SP/iniconfig-2.3.1.dist-info/METADATA"                   "$OUT/iniconfig.rst"
zcat "$D/libaudit1/changelog.gz"                               > "$OUT/audit-changelog.txt"
zcat "$D/libisl23/changelog.gz"                                > "$OUT/isl-changelog.txt"
zcat "$D/libdouble-conversion3/changelog.gz"                   > "$OUT/double-conversion-changelog.txt"
MANWIDTH=80 man -P cat 8 blkdeactivate 2>/dev/null | col -bx   > "$OUT/man-blkdeactivate.txt"
MANWIDTH=80 man -P cat 1 chromium 2>/dev/null | col -bx        > "$OUT/man-chromium.txt"
MANWIDTH=80 man -P cat 7 debuginfod-client-config 2>/dev/null | col -bx > "$OUT/man-debuginfod-client-config.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
