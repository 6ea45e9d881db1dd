#!/usr/bin/env bash
# Rebuild evals/heldout16/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout16/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/heldout16/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/pypika-0.51.1.dist-info/METADATA"                     "$OUT/pypika.rst"
cp   "$SP/python_docx-1.2.0.dist-info/METADATA"                 "$OUT/python-docx.md"
cp   "$SP/mypy-2.4.1.dist-info/METADATA"                        "$OUT/mypy.rst"
cp   "$SP/scipy-1.17.1.dist-info/METADATA"                      "$OUT/scipy.rst"
zcat "$D/libsensors5/changelog.gz"                             > "$OUT/lm-sensors-changes.txt"
zcat "$D/libkmod2/changelog.gz"                                > "$OUT/kmod-news.txt"
zcat "$D/libpulse0/NEWS.gz"                                    > "$OUT/pulseaudio-news.txt"
MANWIDTH=80 man -P cat 1 tmux 2>/dev/null | col -bx            > "$OUT/man-tmux.txt"
MANWIDTH=80 man -P cat 5 Compose 2>/dev/null | col -bx         > "$OUT/man-compose.txt"
MANWIDTH=80 man -P cat 8 update-xmlcatalog 2>/dev/null | col -bx > "$OUT/man-update-xmlcatalog.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
