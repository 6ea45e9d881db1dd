"""Check evals/heldout4/questions.jsonl against the documents, without running any answering code
(:func:`evals.verify_evidence.verify`), and that the ids listed below as look-alike and off-topic (the kinds the
README describes) are exactly the unanswerable ones.

Run from the repository root: .venv/bin/python evals/heldout4/verify_evidence.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verify_evidence import verify

# The two kinds of unanswerable question (README, "The questions"); every other id is answerable.
LOOK_ALIKE = {f"heldout4-{n:03d}" for n in range(57, 73)}  # built to look answerable
OFF_TOPIC = {f"heldout4-{n:03d}" for n in range(73, 81)}  # off-topic for the whole corpus

sys.exit(verify(Path(__file__).resolve().parent, {"look-alike": LOOK_ALIKE, "off-topic": OFF_TOPIC}))
