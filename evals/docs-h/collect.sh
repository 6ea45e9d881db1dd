#!/usr/bin/env bash
# Rebuild evals/docs-h/docs/ from files already on the machine (no network).
# Run from the repository root: bash evals/docs-h/collect.sh
# The seven Markdown/reST files are copied unchanged (READMEs of modules bundled with npm, and docs shipped inside
# Python packages of the project's venv). The three HTML pages come from /usr/share/doc and are cut to 5-25 KB by
# the Python below: whole sections are removed between two exact markers of the original HTML (each asserted to
# occur exactly once); nothing else is changed.
set -euo pipefail
SP=.venv/lib/python3.11/site-packages
NM=/usr/lib/node_modules/npm/node_modules
D=/usr/share/doc
OUT=evals/docs-h/docs
rm -rf "$OUT"; mkdir -p "$OUT"
cp "$NM/@npmcli/arborist/README.md"                                          "$OUT/npmcli-arborist.md"
cp "$NM/@npmcli/config/README.md"                                            "$OUT/npmcli-config.md"
cp "$SP/openai/lib/responses_websocket/README.md"                            "$OUT/openai-responses-websocket.md"
cp "$SP/playwright/driver/package/lib/tools/skills/playwright-cli/references/video-recording.md" \
                                                                             "$OUT/playwright-cli-video-recording.md"
cp "$SP/fastapi/.agents/skills/fastapi/SKILL.md"                             "$OUT/fastapi-skill.md"
cp "$SP/litellm/proxy/client/README.md"                                      "$OUT/litellm-proxy-client.md"
cp "$SP/numpy/ma/README.rst"                                                 "$OUT/numpy-masked-arrays.rst"
python3 - "$D" "$OUT" <<'PY'
import sys
from pathlib import Path
doc, out = Path(sys.argv[1]), Path(sys.argv[2])

def cut(src, dst, cuts):
    """Copy src to dst without the text from each start marker up to (not including) its end marker."""
    text = (doc / src).read_text(encoding="utf-8")
    for start, end in cuts:
        assert text.count(start) == 1 and text.count(end) == 1, (src, start, end)
        i, j = text.index(start), text.index(end)
        assert i < j, (src, start, end)
        text = text[:i] + text[j:]
    (out / dst).write_text(text, encoding="utf-8")

# GNU bc manual: keep chapters 1-2 (introduction, basic elements), sections 3.1 and 3.6 of chapter 3 (expressions)
# and chapters 9-10 (limits, environment variables); drop sections 3.2-3.5, chapters 4-8 and the table of contents.
cut("bc/bc.html", "gnu-bc-manual.html", [
    ('<span id="Basic-Expressions"></span>', '<span id="Special-Expressions"></span>'),
    ('<span id="Statements"></span>', '<span id="Limits"></span>'),
    ('<span id="SEC_Contents"></span>', '</body>'),
])
# Shared MIME-info Database specification, chapter 2: drop sections 2.2-2.9 (XML source, glob, magic, treemagic
# and mime.cache file formats); keep the chapter introduction, 2.1 and 2.10-2.17.
cut("shared-mime-info/shared-mime-info-spec.html/x34.html", "shared-mime-info-spec.html", [
    ('<DIV\nCLASS="sect2"\n><H2\nCLASS="sect2"\n><A\nNAME="AEN124"',
     '<DIV\nCLASS="sect2"\n><H2\nCLASS="sect2"\n><A\nNAME="AEN428"'),
])
# Expat reference: keep the overview, "Building and Installing Expat" and "Using Expat" up to and including "Namespace Processing";
# drop the table of contents, the later "Using Expat" sections (character encodings, external entities, DTDs, stopping parsing) and the
# function-by-function reference.
cut("libexpat1-dev/expat.html/reference.html", "expat-overview.html", [
    ('<h2>Table of Contents</h2>', '<h2><a name="overview">Overview</a></h2>'),
    ('<h3>Character Encodings</h3>', '</body>'),
])
PY
ls "$OUT" | wc -l; du -sh "$OUT"
