#!/usr/bin/env bash
# Rebuild evals/heldout9/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout9/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
DP=/usr/lib/python3/dist-packages
D=/usr/share/doc
OUT=evals/heldout9/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/pytest-9.2.0.dist-info/METADATA"                      "$OUT/pytest.rst"
cp   "$SP/networkx-3.6.1.dist-info/METADATA"                    "$OUT/networkx.rst"
cp   "$SP/pillow-13.0.0.dist-info/METADATA"                     "$OUT/pillow.md"
cp   "$DP/toml-0.10.2.egg-info/PKG-INFO"                        "$OUT/toml.rst"
zcat "$D/libxrender-dev/libXrender.txt.gz"                     > "$OUT/libxrender.txt"
zcat "$D/libksba8/NEWS.gz"                                     > "$OUT/libksba-news.txt"
zcat "$D/libdatrie1/NEWS.gz"                                   > "$OUT/libdatrie-news.txt"
MANWIDTH=80 man -P cat 5 ldap.conf 2>/dev/null | col -bx       > "$OUT/man-ldap-conf.txt"
MANWIDTH=80 man -P cat 1 file 2>/dev/null | col -bx            > "$OUT/man-file.txt"
MANWIDTH=80 man -P cat 1 xauth 2>/dev/null | col -bx           > "$OUT/man-xauth.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
