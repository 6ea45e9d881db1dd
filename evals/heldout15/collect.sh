#!/usr/bin/env bash
# Rebuild evals/heldout15/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout15/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/heldout15/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/regex-2026.11.19.dist-info/METADATA"                  "$OUT/regex.rst"
cp   "$SP/packaging-26.4.dist-info/METADATA"                    "$OUT/packaging.rst"
cp   "$SP/torch-2.13.0+cpu.dist-info/METADATA"                  "$OUT/torch.md"
cp   "$SP/typing_extensions-4.16.0.dist-info/METADATA"          "$OUT/typing-extensions.md"
zcat "$D/python3-six/changelog.gz"                             > "$OUT/six-changelog.txt"
zcat "$D/libx265-199/changelog.gz"                             > "$OUT/x265-release-notes.txt"
zcat "$D/python3-wadllib/changelog.gz"                         > "$OUT/wadllib-news.txt"
MANWIDTH=80 man -P cat 1 mvn 2>/dev/null | col -bx             > "$OUT/man-mvn.txt"
MANWIDTH=80 man -P cat 1 prove 2>/dev/null | col -bx           > "$OUT/man-prove.txt"
MANWIDTH=80 man -P cat 8 run-parts 2>/dev/null | col -bx       > "$OUT/man-run-parts.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
