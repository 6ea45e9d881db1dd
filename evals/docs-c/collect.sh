#!/usr/bin/env bash
# Rebuild evals/docs-c/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/docs-c/collect.sh
# Every file is copied unchanged, except that gzip'ed docs are decompressed; all are saved as .txt.
set -euo pipefail
D=/usr/share/doc
OUT=evals/docs-c/docs
rm -rf "$OUT"; mkdir -p "$OUT"
zcat "$D/bash/POSIX.gz"                                  > "$OUT/bash-posix-mode.txt"
zcat "$D/sed/BUGS.gz"                                    > "$OUT/sed-bugs.txt"
zcat "$D/libc6/README.hesiod.gz"                         > "$OUT/glibc-hesiod.txt"
zcat "$D/libpng16-16/README.gz"                          > "$OUT/libpng-readme.txt"
zcat "$D/libstemmer0d/libstemmer_c_README.gz"            > "$OUT/libstemmer-readme.txt"
zcat "$D/libpam0g/Debian-PAM-MiniPolicy.gz"              > "$OUT/debian-pam-minipolicy.txt"
zcat "$D/pkgconf-bin/README.md.gz"                       > "$OUT/pkgconf-readme.txt"
zcat "$D/libgtk2.0-common/README.gz"                     > "$OUT/gtk2-readme.txt"
zcat "$D/diffutils/NEWS.gz"                              > "$OUT/diffutils-news.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
