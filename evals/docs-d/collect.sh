#!/usr/bin/env bash
# Rebuild evals/docs-d/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/docs-d/collect.sh
# Every file is copied unchanged (npm's HTML documentation, READMEs of modules bundled with npm, and one
# Node.js API page shipped in the Debian nodejs package).
set -euo pipefail
NPMDOC=/usr/lib/node_modules/npm/docs/output
NM=/usr/lib/node_modules/npm/node_modules
D=/usr/share/doc
OUT=evals/docs-d/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp "$NPMDOC/commands/npm-audit.html"                "$OUT/npm-audit.html"
cp "$NPMDOC/using-npm/scripts.html"                 "$OUT/npm-scripts.html"
cp "$NPMDOC/configuring-npm/package-lock-json.html" "$OUT/npm-package-lock-json.html"
cp "$NPMDOC/using-npm/dependency-selectors.html"    "$OUT/npm-dependency-selectors.html"
cp "$NM/semver/README.md"                           "$OUT/semver.md"
cp "$NM/node-gyp/README.md"                         "$OUT/node-gyp.md"
cp "$NM/pacote/README.md"                           "$OUT/pacote.md"
cp "$NM/nopt/README.md"                             "$OUT/nopt.md"
cp "$NM/cssesc/README.md"                           "$OUT/cssesc.md"
cp "$D/nodejs/api/corepack.html"                    "$OUT/nodejs-corepack.html"
ls "$OUT" | wc -l; du -sh "$OUT"
