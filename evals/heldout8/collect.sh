#!/usr/bin/env bash
# Rebuild evals/heldout8/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout8/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
DP=/usr/lib/python3/dist-packages
D=/usr/share/doc
OUT=evals/heldout8/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/build-1.6.1.dist-info/METADATA"                       "$OUT/pypa-build.md"
cp   "$SP/boto3-1.44.8.dist-info/METADATA"                      "$OUT/boto3.rst"
cp   "$DP/argcomplete-2.0.0.egg-info/PKG-INFO"                  "$OUT/argcomplete.rst"
cp   "$DP/crcmod-1.7.egg-info/PKG-INFO"                         "$OUT/crcmod.rst"
cp   "$D/zip/WHATSNEW"                                          "$OUT/zip-whatsnew.txt"
zcat "$D/libgcrypt20/README.gz"                                > "$OUT/libgcrypt-readme.txt"
zcat "$D/libnghttp2-14/README.rst.gz"                          > "$OUT/nghttp2-mkapiref.rst"
MANWIDTH=80 man -P cat 1 hostname 2>/dev/null | col -bx        > "$OUT/man-hostname.txt"
MANWIDTH=80 man -P cat 1 rpcgen 2>/dev/null | col -bx          > "$OUT/man-rpcgen.txt"
MANWIDTH=80 man -P cat 1 llvm-cov 2>/dev/null | col -bx        > "$OUT/man-llvm-cov.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
