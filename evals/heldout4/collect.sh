#!/usr/bin/env bash
# Rebuild evals/heldout4/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout4/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/heldout4/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/sympy-1.14.0.dist-info/METADATA"                      "$OUT/sympy.md"
cp   "$SP/oauthlib-4.0.1.dist-info/METADATA"                    "$OUT/oauthlib.rst"
cp   "$SP/pyparsing-3.3.3.dist-info/METADATA"                   "$OUT/pyparsing.rst"
cp   "$SP/greenlet-3.5.6.dist-info/METADATA"                    "$OUT/greenlet.rst"
zcat "$D/libjpeg62-turbo-dev/README.md.gz"                     > "$OUT/libjpeg-turbo-readme.md"
cp   /usr/lib/node_modules/npm/docs/output/using-npm/scope.html  "$OUT/npm-scope.html"
zcat "$D/libkrb5-3/README.gz"                                  > "$OUT/krb5-readme.txt"
cp   "$D/gcc-12-base/README.Bugs"                                "$OUT/gcc-readme-bugs.txt"
MANWIDTH=80 man -P cat 7 random 2>/dev/null | col -bx          > "$OUT/man-random.txt"
MANWIDTH=80 man -P cat 7 deb-version 2>/dev/null | col -bx     > "$OUT/man-deb-version.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
