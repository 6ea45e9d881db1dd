#!/usr/bin/env bash
# Rebuild evals/heldout/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and manual pages are rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/heldout/docs
rm -rf "$OUT"; mkdir -p "$OUT"
zcat "$D/systemd/UIDS-GIDS.md.gz"                        > "$OUT/systemd-uids-gids.md"
cp   "$D/nodejs/SECURITY.md"                              "$OUT/nodejs-security.md"
zcat "$D/python3-pip/html/topics/dependency-resolution.md.gz" > "$OUT/pip-dependency-resolution.md"
cp   "$SP/bcrypt-5.0.0.dist-info/METADATA"                "$OUT/bcrypt.rst"
cp   "$D/python3-setuptools/python 2 sunset.rst"          "$OUT/setuptools-python2-sunset.rst"
zcat "$D/zlib1g-dev/algorithm.txt.gz"                     > "$OUT/zlib-algorithm.txt"
cp   "$D/openssl/HOWTO/keys.txt"                          "$OUT/openssl-keys-howto.txt"
cp   "$D/git/contrib/subtree/git-subtree.txt"             "$OUT/git-subtree.txt"
MANWIDTH=80 man -P cat 5 crypt           2>/dev/null | col -bx > "$OUT/man-crypt.txt"
MANWIDTH=80 man -P cat 5 apt_preferences 2>/dev/null | col -bx > "$OUT/man-apt-preferences.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
