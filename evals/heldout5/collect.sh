#!/usr/bin/env bash
# Rebuild evals/heldout5/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout5/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/heldout5/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/wcwidth-0.9.4.dist-info/METADATA"                     "$OUT/wcwidth.rst"
cp   "$SP/docutils-0.23.dist-info/METADATA"                     "$OUT/docutils.rst"
cp   "$SP/multidict-7.2.1.dist-info/METADATA"                   "$OUT/multidict.rst"
cp   "$SP/ml_dtypes-0.6.0.dist-info/METADATA"                   "$OUT/ml-dtypes.md"
cp   "$SP/graphql_core-3.3.2.dist-info/METADATA"                "$OUT/graphql-core.md"
cp   /usr/lib/node_modules/npm/docs/output/commands/npm-sbom.html  "$OUT/npm-sbom.html"
zcat "$D/xextproto/dpms.txt.gz"                                > "$OUT/x11-dpms.txt"
zcat "$D/util-linux/howto-contribute.txt.gz"                   > "$OUT/util-linux-howto-contribute.txt"
MANWIDTH=80 man -P cat 7 arp 2>/dev/null | col -bx             > "$OUT/man-arp.txt"
MANWIDTH=80 man -P cat 1 xxd 2>/dev/null | col -bx             > "$OUT/man-xxd.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
