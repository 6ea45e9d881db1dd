#!/usr/bin/env bash
# Rebuild evals/heldout12/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout12/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/heldout12/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/pydantic_core-2.50.5.dist-info/METADATA"              "$OUT/pydantic-core.md"
cp   "$SP/chromadb-1.5.9.dist-info/METADATA"                    "$OUT/chromadb.md"
cp   "$SP/hf_xet-1.8.0.dist-info/METADATA"                      "$OUT/hf-xet.md"
cp   "$SP/rpds_py-2026.9.1.dist-info/METADATA"                  "$OUT/rpds-py.rst"
zcat "$D/libvorbis0a/changelog.gz"                             > "$OUT/libvorbis-changelog.txt"
zcat "$D/libgraphite2-3/changelog.gz"                          > "$OUT/graphite2-changelog.txt"
zcat "$D/libjbig0/changelog.gz"                                > "$OUT/jbigkit-changelog.txt"
MANWIDTH=80 man -P cat 1 lesskey 2>/dev/null | col -bx         > "$OUT/man-lesskey.txt"
MANWIDTH=80 man -P cat 1 jar 2>/dev/null | col -bx             > "$OUT/man-jar.txt"
MANWIDTH=80 man -P cat 5 semanage.conf 2>/dev/null | col -bx   > "$OUT/man-semanage-conf.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
