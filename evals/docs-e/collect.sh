#!/usr/bin/env bash
# Rebuild evals/docs-e/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/docs-e/collect.sh
# Every file is a package's dist-info/METADATA (its README as the long description after a `Key: value`
# header), copied unchanged and named by the description's format (Description-Content-Type; mpmath declares
# none and its description is reStructuredText).
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
OUT=evals/docs-e/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/frozenlist-1.8.0.dist-info/METADATA"         "$OUT/frozenlist.rst"
cp   "$SP/schemathesis-4.32.5.dist-info/METADATA"      "$OUT/schemathesis.md"
cp   "$SP/tokenizers-0.23.3.dist-info/METADATA"        "$OUT/tokenizers.md"
cp   "$SP/scikit_learn-1.9.1.dist-info/METADATA"       "$OUT/scikit-learn.rst"
cp   "$SP/onnx-1.23.2.dist-info/METADATA"              "$OUT/onnx.md"
cp   "$SP/mpmath-1.3.0.dist-info/METADATA"             "$OUT/mpmath.rst"
cp   "$SP/markdown_it_py-4.3.0.dist-info/METADATA"     "$OUT/markdown-it-py.md"
cp   "$SP/jsonschema-4.26.0.dist-info/METADATA"        "$OUT/jsonschema.rst"
cp   "$SP/selectolax-1.0.2.dist-info/METADATA"         "$OUT/selectolax.md"
cp   "$SP/aiohappyeyeballs-2.7.1.dist-info/METADATA"   "$OUT/aiohappyeyeballs.md"
ls "$OUT" | wc -l; du -sh "$OUT"
