#!/usr/bin/env bash
# Rebuild evals/heldout18/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/heldout18/collect.sh
# Every file is copied unchanged, except: gzip'ed docs are decompressed, the METADATA files are read out of the
# wheels of the local package mirror /opt/pypi/files with unzip -p, and the manual page is rendered to text by
# man(1) at 80 columns (piped through col -bx) from the wheel that ships it.
set -euo pipefail
W=/opt/pypi/files
R=/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html
D=/usr/share/doc
OUT=evals/heldout18/docs
rm -rf "$OUT"; mkdir -p "$OUT"
unzip -p "$W/sgp4-2.27-cp311-abi3-manylinux1_x86_64.manylinux_2_28_x86_64.manylinux_2_5_x86_64.whl" \
             sgp4-2.27.dist-info/METADATA                      > "$OUT/sgp4.rst"
unzip -p "$W/holidays-0.105-py3-none-any.whl"    holidays-0.105.dist-info/METADATA > "$OUT/holidays.md"
unzip -p "$W/pymarc-5.4.0-py3-none-any.whl"      pymarc-5.4.0.dist-info/METADATA   > "$OUT/pymarc.md"
unzip -p "$W/conllu-6.0.0-py3-none-any.whl"      conllu-6.0.0.dist-info/METADATA   > "$OUT/conllu.md"
unzip -p "$W/loguru-0.7.3-py3-none-any.whl"      loguru-0.7.3.dist-info/METADATA   > "$OUT/loguru.md"
cp   "$R/rustdoc/write-documentation/documentation-tests.html"  "$OUT/rustdoc-documentation-tests.html"
cp   "$R/rustc/exploit-mitigations.html"                       "$OUT/rustc-exploit-mitigations.html"
zcat "$D/gdb/README.gz"                                         > "$OUT/gdb-readme.txt"
zcat "$D/libpciaccess0/changelog.gz"                            > "$OUT/libpciaccess-changelog.txt"
unzip -p "$W/cmeel_qhull-8.0.2.1-0-py3-none-manylinux_2_28_x86_64.whl" cmeel.prefix/share/man/man1/qhull.1 \
  | MANWIDTH=80 man -l -P cat - 2>/dev/null | col -bx          > "$OUT/man-qhull.txt"
ls "$OUT" | wc -l; du -sh "$OUT"
