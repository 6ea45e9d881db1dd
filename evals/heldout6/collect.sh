#!/usr/bin/env bash
# Rebuild evals/heldout6/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout6/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
RUSTDOC=/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html
OUT=evals/heldout6/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/pyrate_limiter-4.5.1.dist-info/METADATA"              "$OUT/pyrate-limiter.md"
cp   "$SP/python_multipart-0.0.34.dist-info/METADATA"           "$OUT/python-multipart.md"
cp   "$SP/propcache-0.5.4.dist-info/METADATA"                   "$OUT/propcache.rst"
cp   "$RUSTDOC/cargo/reference/profiles.html"                   "$OUT/cargo-profiles.html"
zcat "$D/libcups2/README.Debian.gz"                            > "$OUT/cups-readme-debian.txt"
zcat "$D/adduser/README.gz"                                    > "$OUT/adduser-readme.txt"
zcat "$D/coreutils/README.gz"                                  > "$OUT/coreutils-readme.txt"
MANWIDTH=80 man -P cat 1 xargs 2>/dev/null | col -bx           > "$OUT/man-xargs.txt"
MANWIDTH=80 man -P cat 5 mke2fs.conf 2>/dev/null | col -bx     > "$OUT/man-mke2fs-conf.txt"
MANWIDTH=80 man -P cat 1 fuser 2>/dev/null | col -bx           > "$OUT/man-fuser.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
