"""Check evals/heldout/questions.jsonl against the documents, without running any answering code
(:func:`evals.verify_evidence.verify`).

Run from the repository root: .venv/bin/python evals/heldout/verify_evidence.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verify_evidence import verify

sys.exit(verify(Path(__file__).resolve().parent))
