#!/usr/bin/env bash
# Rebuild evals/heldout10/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout10/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/heldout10/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/httpcore-1.0.9.dist-info/METADATA"                    "$OUT/httpcore.md"
cp   "$SP/starlette-1.10.0.dist-info/METADATA"                  "$OUT/starlette.md"
cp   "$SP/websockets-17.4.dist-info/METADATA"                   "$OUT/websockets.rst"
cp   "$SP/annotated_doc-0.0.7.dist-info/METADATA"               "$OUT/annotated-doc.md"
zcat "$D/libfribidi0/NEWS.gz"                                  > "$OUT/fribidi-news.txt"
zcat "$D/libgdk-pixbuf-2.0-0/NEWS.gz"                          > "$OUT/gdk-pixbuf-news.txt"
zcat "$D/pinentry-curses/NEWS.gz"                              > "$OUT/pinentry-news.txt"
MANWIDTH=80 man -P cat 1 lz4 2>/dev/null | col -bx             > "$OUT/man-lz4.txt"
MANWIDTH=80 man -P cat 1 gio 2>/dev/null | col -bx             > "$OUT/man-gio.txt"
MANWIDTH=80 man -P cat 1 uconv 2>/dev/null | col -bx           > "$OUT/man-uconv.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
