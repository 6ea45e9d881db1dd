#!/usr/bin/env bash
# Rebuild evals/heldout11/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout11/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/heldout11/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/truststore-0.10.5.dist-info/METADATA"                 "$OUT/truststore.md"
cp   "$SP/watchfiles-1.3.0.dist-info/METADATA"                  "$OUT/watchfiles.md"
cp   "$SP/anyio-4.16.0.dist-info/METADATA"                      "$OUT/anyio.rst"
cp   "$SP/werkzeug-3.1.9.dist-info/METADATA"                    "$OUT/werkzeug.md"
zcat "$D/libseccomp2/changelog.gz"                             > "$OUT/libseccomp-changelog.txt"
zcat "$D/libpsl5/changelog.gz"                                 > "$OUT/libpsl-changelog.txt"
zcat "$D/liblcms2-2/changelog.gz"                              > "$OUT/lcms2-changelog.txt"
MANWIDTH=80 man -P cat 1 xprop 2>/dev/null | col -bx           > "$OUT/man-xprop.txt"
MANWIDTH=80 man -P cat 1 appstreamcli 2>/dev/null | col -bx    > "$OUT/man-appstreamcli.txt"
MANWIDTH=80 man -P cat 1 pkcon 2>/dev/null | col -bx           > "$OUT/man-pkcon.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
