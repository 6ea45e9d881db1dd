#!/usr/bin/env bash
# Rebuild evals/docs-g/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/docs-g/collect.sh
# Every file is copied unchanged, except that gzip'ed docs are decompressed; plain-text docs are saved as .txt,
# Markdown ones as .md.
set -euo pipefail
D=/usr/share/doc
OUT=evals/docs-g/docs
rm -rf "$OUT"; mkdir -p "$OUT"
zcat "$D/make/README.gz"                                 > "$OUT/gnu-make-readme.txt"
zcat "$D/ed/README.gz"                                   > "$OUT/gnu-ed-readme.txt"
zcat "$D/patch/NEWS.gz"                                  > "$OUT/gnu-patch-news.txt"
zcat "$D/liblocale-gettext-perl/README.gz"               > "$OUT/perl-locale-gettext-readme.txt"
zcat "$D/python3-xmltodict/README.md.gz"                 > "$OUT/xmltodict-readme.md"
zcat "$D/libcommons-cli-java/RELEASE-NOTES.txt.gz"       > "$OUT/commons-cli-release-notes.txt"
zcat "$D/nettle-dev/descore.README.gz"                   > "$OUT/des-descore-readme.txt"
zcat "$D/librsvg2-2/README.md.gz"                        > "$OUT/librsvg-readme.md"
zcat "$D/libslang2/NEWS.gz"                              > "$OUT/slang-news.txt"
zcat "$D/groff-base/MORE.STUFF.gz"                       > "$OUT/groff-more-stuff.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
