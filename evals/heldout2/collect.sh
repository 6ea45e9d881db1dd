#!/usr/bin/env bash
# Rebuild evals/heldout2/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout2/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed and the manual page is rendered to
# text by man(1) at 80 columns (piped through col -bx).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/heldout2/docs
rm -rf "$OUT"; mkdir -p "$OUT"
zcat "$D/postgresql-common/README.md.gz"                 > "$OUT/postgresql-common-architecture.md"
zcat "$D/iso-codes/README.md.gz"                         > "$OUT/iso-codes-readme.md"
cp   "$SP/mmh3-5.3.1.dist-info/METADATA"                  "$OUT/mmh3.md"
zcat "$D/yq/README.rst.gz"                               > "$OUT/yq-readme.rst"
cp   "$SP/pathspec-1.1.1.dist-info/METADATA"              "$OUT/pathspec.rst"
cp   "$D/libxslt1-dev/html/xsltproc.html"                 "$OUT/xsltproc.html"
zcat "$D/init-system-helpers/README.invoke-rc.d.gz"      > "$OUT/invoke-rc-d-readme.txt"
zcat "$D/util-linux/parse-date.txt.gz"                   > "$OUT/util-linux-parse-date.txt"
zcat "$D/procps/FAQ.gz"                                  > "$OUT/procps-faq.txt"
MANWIDTH=80 man -P cat 5 resolv.conf 2>/dev/null | col -bx > "$OUT/man-resolv-conf.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
