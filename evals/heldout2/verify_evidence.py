"""Check evals/heldout2/questions.jsonl against the documents, without running any answering code.

Run from the repository root: .venv/bin/python evals/heldout2/verify_evidence.py

For every answerable question, each evidence "text" must occur verbatim in the text citeqa's loaders give for
that document (ingest.loaders.load_path); for .txt files it must also occur in the file's own content. Also
checks the record format, unique ids, and that unanswerable questions carry no answers or evidence, and that the
ids listed below as look-alike and off-topic (the kinds the README describes) are exactly the unanswerable ones.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parents[1]))

from ingest.loaders import load_path  # noqa: E402

# The two kinds of unanswerable question (README, "The questions"); every other id is answerable.
LOOK_ALIKE = {f"heldout2-{n:03d}" for n in range(57, 74)}  # built to look answerable
OFF_TOPIC = {f"heldout2-{n:03d}" for n in range(74, 82)}  # off-topic for the whole corpus

problems: list = []
_, documents = load_path(ROOT / "docs", problems)
texts = {doc.source: doc.text for doc in documents}
print(f"loaded {len(documents)} documents, {len(problems)} load problems {problems or ''}")

records = [json.loads(line) for line in (ROOT / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
failures = []
ids = Counter(r["id"] for r in records)
failures += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
used_docs: Counter = Counter()
checked = 0
for r in records:
    if set(r) != {"id", "question", "answers", "evidence", "answerable"}:
        failures.append(f"{r.get('id')}: keys {sorted(r)}")
    if r["answerable"]:
        if not r["answers"] or not r["evidence"]:
            failures.append(f"{r['id']}: answerable without answers/evidence")
        for ev in r["evidence"]:
            doc, text = ev["doc"], ev["text"]
            checked += 1
            used_docs[doc] += 1
            if doc not in texts:
                failures.append(f"{r['id']}: unknown doc {doc}")
                continue
            occurrences = texts[doc].count(text)
            if occurrences == 0:
                failures.append(f"{r['id']}: evidence not in loaded text of {doc}: {text[:70]!r}")
            elif occurrences > 1:
                failures.append(f"{r['id']}: evidence occurs {occurrences} times in {doc}")
            if doc.endswith(".txt") and text not in (ROOT / "docs" / doc).read_text(encoding="utf-8"):
                failures.append(f"{r['id']}: evidence not in raw file {doc}")
    elif r["answers"] or r["evidence"]:
        failures.append(f"{r['id']}: unanswerable with answers/evidence")

unanswerable_ids = {r["id"] for r in records if not r["answerable"]}
if unanswerable_ids != LOOK_ALIKE | OFF_TOPIC:
    failures.append(f"unanswerable ids differ from the look-alike/off-topic lists: {sorted(unanswerable_ids ^ (LOOK_ALIKE | OFF_TOPIC))}")
answerable = sum(r["answerable"] for r in records)
print(f"{len(records)} questions: {answerable} answerable, {len(records) - answerable} unanswerable "
      f"({len(LOOK_ALIKE & unanswerable_ids)} look-alike, {len(OFF_TOPIC & unanswerable_ids)} off-topic)")
print(f"{checked} evidence sentences checked (each found exactly once in its document's loaded text)")
for doc in sorted(texts):
    print(f"  {doc}: {used_docs[doc]} evidence sentences")
if failures:
    print("FAILURES:")
    for f in failures:
        print("  " + f)
    sys.exit(1)
print("OK: every evidence text occurs verbatim in the text citeqa reads from its document")
