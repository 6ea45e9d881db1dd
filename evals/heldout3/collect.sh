#!/usr/bin/env bash
# Rebuild evals/heldout3/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout3/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/heldout3/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/pysbd-0.3.4.dist-info/METADATA"                       "$OUT/pysbd.md"
cp   "$SP/websocket_client-1.9.2.dist-info/METADATA"            "$OUT/websocket-client.md"
zcat "$D/tcl8.6/README.md.gz"                                  > "$OUT/tcl-readme.md"
cp   "$SP/cachetools-8.0.0.dist-info/METADATA"                  "$OUT/cachetools.rst"
cp   "$SP/pybase64-1.5.1.dist-info/METADATA"                    "$OUT/pybase64.rst"
cp   /usr/lib/node_modules/npm/docs/output/using-npm/workspaces.html "$OUT/npm-workspaces.html"
zcat "$D/gnupg/README.gz"                                      > "$OUT/gnupg-readme.txt"
zcat "$D/dbus/README.gz"                                       > "$OUT/dbus-readme.txt"
MANWIDTH=80 man -P cat 7 pipe 2>/dev/null | col -bx            > "$OUT/man-pipe.txt"
MANWIDTH=80 man -P cat 5 machine-id 2>/dev/null | col -bx      > "$OUT/man-machine-id.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
