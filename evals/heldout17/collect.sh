#!/usr/bin/env bash
# Rebuild evals/heldout17/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout17/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/heldout17/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/langcodes-3.5.1.dist-info/METADATA"                  "$OUT/langcodes.md"
cp   "$SP/grpcio-1.85.3.dist-info/METADATA"                    "$OUT/grpcio.rst"
cp   "$SP/harfile-0.6.0.dist-info/METADATA"                    "$OUT/harfile.md"
cp   "$SP/hpack-4.2.0.dist-info/METADATA"                      "$OUT/hpack.rst"
zcat "$D/libpcsclite1/changelog.gz"                            > "$OUT/pcsc-lite-changelog.txt"
zcat "$D/libbabeltrace1/changelog.gz"                          > "$OUT/babeltrace-changelog.txt"
zcat "$D/libdconf1/NEWS.gz"                                    > "$OUT/dconf-news.txt"
MANWIDTH=80 man -P cat 5 libsasl 2>/dev/null | col -bx         > "$OUT/man-libsasl.txt"
MANWIDTH=80 man -P cat 3pm Error 2>/dev/null | col -bx         > "$OUT/man-error.txt"
MANWIDTH=80 man -P cat 1 debconf-apt-progress 2>/dev/null | col -bx > "$OUT/man-debconf-apt-progress.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
