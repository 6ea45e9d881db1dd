#!/usr/bin/env bash
# Rebuild evals/realdocs/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/realdocs/collect.sh
# Every file is copied as it is (no editing), except: gzip'ed docs are decompressed, man pages are rendered
# to text by man(1) at 80 columns, and the PDFs are printed by headless Chromium from the named source.
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
D=/usr/share/doc
OUT=evals/realdocs/docs
rm -rf "$OUT"; mkdir -p "$OUT"

# --- Python package metadata (PyPI long descriptions), markdown -> .md ------------------------------------
for pair in requests:requests-2.34.2 httpx:httpx-0.28.1 ftfy:ftfy-6.3.1 wordfreq:wordfreq-3.1.1 \
            attrs:attrs-26.1.0 python-dotenv:python_dotenv-1.2.4 uvicorn:uvicorn-0.54.0 rich:rich-15.0.0 \
            tiktoken:tiktoken-0.14.0 msgpack:msgpack-1.2.4 cloudpickle:cloudpickle-3.1.3 \
            threadpoolctl:threadpoolctl-3.8.0 filelock:filelock-4.3.1 idna:idna-3.20 urllib3:urllib3-2.8.0; do
  cp "$SP/${pair#*:}.dist-info/METADATA" "$OUT/${pair%%:*}.md"
done
# --- Python package metadata, reStructuredText -> .rst ---------------------------------------------------
for pair in joblib:joblib-1.6.0 tqdm:tqdm-4.70.1 h11:h11-0.16.0 jmespath:jmespath-1.1.0 \
            sortedcontainers:sortedcontainers-2.4.0 python-dateutil:python_dateutil-2.9.0.post0 \
            pluggy:pluggy-1.7.0 shellingham:shellingham-1.5.4; do
  cp "$SP/${pair#*:}.dist-info/METADATA" "$OUT/${pair%%:*}.rst"
done
# --- Debian package documentation, markdown ---------------------------------------------------------------
cp "$D/nodejs/glossary.md"                          "$OUT/nodejs-glossary.md"
cp "$D/python3-pip/html/topics/repeatable-installs.md" "$OUT/pip-repeatable-installs.md"
cp "$D/python3-pip/html/topics/https-certificates.md"  "$OUT/pip-https-certificates.md"
zcat "$D/zstd/README.md.gz"                          > "$OUT/zstd-readme.md"
zcat "$D/libffi8/README.md.gz"                       > "$OUT/libffi-readme.md"
# --- Debian package documentation, plain text -------------------------------------------------------------
zcat "$D/xz-utils/faq.txt.gz"                        > "$OUT/xz-faq.txt"
zcat "$D/zlib1g-dev/FAQ.gz"                          > "$OUT/zlib-faq.txt"
cp "$D/man-db/FAQ"                                   "$OUT/man-db-faq.txt"
cp "$D/base-passwd/README"                           "$OUT/base-passwd-readme.txt"
cp "$D/python3.11/README.venv"                       "$OUT/python3-readme-venv.txt"
cp "$D/dpkg/spec/rootless-builds.txt"                "$OUT/dpkg-rootless-builds.txt"
# --- manual pages rendered as text (man-db, 80 columns) ---------------------------------------------------
for m in xz bzip2 ssh jq gzip; do
  MANWIDTH=80 man "$m" 2>/dev/null | col -bx > "$OUT/man-$m.txt"
done
# --- HTML documentation -----------------------------------------------------------------------------------
cp "$D/base-passwd/users-and-groups.html"            "$OUT/users-and-groups.html"
cp "$D/bzip2/manual.html"                            "$OUT/bzip2-manual.html"
cp "$D/zlib1g-dev/examples/zlib_how.html"            "$OUT/zlib-how.html"
cp "$D/libffi8/html/Introduction.html"               "$OUT/libffi-introduction.html"
cp "$D/libffi8/html/Closure-Example.html"            "$OUT/libffi-closure-example.html"
cp "$D/ninja-build/manual.html"                      "$OUT/ninja-manual.html"
cp "$D/nodejs/api/path.html"                         "$OUT/nodejs-path.html"
cp "$D/nodejs/api/os.html"                           "$OUT/nodejs-os.html"
cp "$D/valgrind/html/quick-start.html"               "$OUT/valgrind-quick-start.html"
cp "$D/time/time.html"                               "$OUT/gnu-time.html"
cp "$D/python3/python-policy.html"                   "$OUT/debian-python-policy.html"
cp "$D/fontconfig/fontconfig-user.html"              "$OUT/fontconfig-user.html"
# --- PDFs printed by headless Chromium from real documents ------------------------------------------------
pdf() { chromium --headless --no-sandbox --disable-gpu --no-pdf-header-footer --print-to-pdf="$OUT/$2" "file://$1" 2>/dev/null; }
pdf "$D/nodejs/api/timers.html"                      nodejs-timers.pdf
pdf "$D/libffi8/html/The-Basics.html"                libffi-the-basics.pdf
pdf "$D/valgrind/html/manual-intro.html"             valgrind-manual-intro.pdf
ls "$OUT" | wc -l; du -sh "$OUT"
