"""Check a question set against its documents without running any answering code (evals/heldout, heldout2, ...).

For every answerable question, each evidence "text" must occur exactly once, verbatim, in the text citeqa's
loaders give for that document (``ingest.loaders.load_path``); for .txt files also in the file's own content.
Also checks the record format, unique ids, that unanswerable questions carry no answers or evidence and, when
the set names the kinds of its unanswerable questions (look-alike, off-topic), that those ids are exactly the
unanswerable ones: a set's ``kinds.json`` gives the first and last number of each kind's ids, e.g.
``{"look-alike": [57, 72], "off-topic": [73, 80]}`` for ``heldout3-057`` ... ``heldout3-080``.

Run from the repository root: ``.venv/bin/python evals/verify_evidence.py evals/heldout3``
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.loaders import load_path


def verify(root: Path, kinds: dict[str, set[str]] | None = None) -> int:
    """Check ``root``/questions.jsonl against ``root``/docs; print what was checked; 0 when all is right."""
    problems: list = []
    _, documents = load_path(root / "docs", problems)
    texts = {doc.source: doc.text for doc in documents}
    print(f"loaded {len(documents)} documents, {len(problems)} load problems {problems or ''}")
    lines = (root / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
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
                if doc.endswith(".txt") and text not in (root / "docs" / doc).read_text(encoding="utf-8"):
                    failures.append(f"{r['id']}: evidence not in raw file {doc}")
        elif r["answers"] or r["evidence"]:
            failures.append(f"{r['id']}: unanswerable with answers/evidence")
    unanswerable = {r["id"] for r in records if not r["answerable"]}
    listed = set().union(*kinds.values()) if kinds else unanswerable
    if unanswerable != listed:
        failures.append(f"unanswerable ids differ from the lists of kinds: {sorted(unanswerable ^ listed)}")
    answerable = sum(r["answerable"] for r in records)
    counts = ", ".join(f"{len(ids_ & unanswerable)} {kind}" for kind, ids_ in (kinds or {}).items())
    print(f"{len(records)} questions: {answerable} answerable, {len(records) - answerable} unanswerable"
          + (f" ({counts})" if counts else ""))
    print(f"{checked} evidence sentences checked (each found exactly once in its document's loaded text)")
    for doc in sorted(texts):
        print(f"  {doc}: {used_docs[doc]} evidence sentences")
    if failures:
        print("FAILURES:")
        for failure in failures:
            print("  " + failure)
        return 1
    print("OK: every evidence text occurs verbatim in the text citeqa reads from its document")
    return 0


def kinds_of(root: Path) -> dict[str, set[str]] | None:
    """The ids of each kind of unanswerable question named in ``root``/kinds.json (None without one)."""
    path = root / "kinds.json"
    if not path.is_file():
        return None
    ranges = json.loads(path.read_text(encoding="utf-8"))
    return {kind: {f"{root.name}-{n:03d}" for n in range(first, last + 1)} for kind, (first, last) in ranges.items()}


if __name__ == "__main__":
    if len(sys.argv) != 2 or not (Path(sys.argv[1]) / "questions.jsonl").is_file():
        sys.exit("usage: verify_evidence.py SET_FOLDER (a folder with questions.jsonl and docs/)")
    folder = Path(sys.argv[1]).resolve()
    sys.exit(verify(folder, kinds_of(folder)))
