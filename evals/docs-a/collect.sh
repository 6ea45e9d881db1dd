#!/usr/bin/env bash
# Rebuild evals/docs-a/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/docs-a/collect.sh
# Every file is a package's dist-info/METADATA (its README as the long description after a `Key: value`
# header), copied unchanged and named by the description's format.
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
DP=/usr/lib/python3/dist-packages
OUT=evals/docs-a/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp   "$SP/ruff-0.17.6.dist-info/METADATA"                      "$OUT/ruff.md"
cp   "$SP/typer-0.29.2.dist-info/METADATA"                     "$OUT/typer.md"
cp   "$SP/huggingface_hub-2.4.0.dist-info/METADATA"            "$OUT/huggingface-hub.md"
cp   "$SP/annotated_types-0.8.0.dist-info/METADATA"            "$OUT/annotated-types.md"
cp   "$SP/narwhals-2.29.0.dist-info/METADATA"                  "$OUT/narwhals.md"
cp   "$SP/sentence_transformers-6.2.0.dist-info/METADATA"      "$OUT/sentence-transformers.md"
cp   "$SP/fsspec-2026.9.0.dist-info/METADATA"                  "$OUT/fsspec.md"
cp   "$SP/pypdf-7.1.0.dist-info/METADATA"                      "$OUT/pypdf.md"
cp   "$SP/aiohttp_retry-2.9.1.dist-info/METADATA"              "$OUT/aiohttp-retry.md"
cp   "$DP/distro-1.8.0.dist-info/METADATA"                     "$OUT/distro.md"
ls "$OUT" | wc -l; du -sh "$OUT"
