#!/usr/bin/env bash
# Rebuild evals/heldout13/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout13/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/heldout13/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/contourpy-1.3.3.dist-info/METADATA"                   "$OUT/contourpy.md"
cp   "$SP/safetensors-0.8.0.dist-info/METADATA"                 "$OUT/safetensors.md"
cp   "$SP/importlib_metadata-8.9.0.dist-info/METADATA"          "$OUT/importlib-metadata.rst"
cp   "$SP/googleapis_common_protos-1.76.0.dist-info/METADATA"   "$OUT/googleapis-common-protos.rst"
zcat "$D/libcbor0.8/changelog.gz"                              > "$OUT/libcbor-changelog.txt"
zcat "$D/libxxhash0/changelog.gz"                              > "$OUT/xxhash-changelog.txt"
zcat "$D/liblerc4/changelog.gz"                                > "$OUT/lerc-changelog.txt"
MANWIDTH=80 man -P cat 5 editrc 2>/dev/null | col -bx          > "$OUT/man-editrc.txt"
MANWIDTH=80 man -P cat 1 cpack 2>/dev/null | col -bx           > "$OUT/man-cpack.txt"
MANWIDTH=80 man -P cat 1 pygmentize 2>/dev/null | col -bx      > "$OUT/man-pygmentize.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
