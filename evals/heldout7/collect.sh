#!/usr/bin/env bash
# Rebuild evals/heldout7/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout7/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
GSUTIL=/usr/lib/google-cloud-sdk/platform/gsutil/third_party
OUT=evals/heldout7/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/overrides-7.7.0.dist-info/METADATA"                   "$OUT/overrides.rst"
cp   "$SP/uvloop-0.23.0.dist-info/METADATA"                     "$OUT/uvloop.rst"
cp   "$SP/jiter-0.19.0.dist-info/METADATA"                      "$OUT/jiter.md"
cp   /root/.pyenv/COMMANDS.md                                  "$OUT/pyenv-commands.md"
cp   "$GSUTIL/charset_normalizer/README.md"                     "$OUT/charset-normalizer.md"
zcat "$D/libgnutls30/README.md.gz"                             > "$OUT/gnutls-readme.md"
zcat "$D/libpfm4/README.gz"                                    > "$OUT/libpfm4-readme.txt"
MANWIDTH=80 man -P cat 1 capsh 2>/dev/null | col -bx           > "$OUT/man-capsh.txt"
MANWIDTH=80 man -P cat 1 cscope 2>/dev/null | col -bx          > "$OUT/man-cscope.txt"
MANWIDTH=80 man -P cat 1 sqlite3 2>/dev/null | col -bx         > "$OUT/man-sqlite3.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
