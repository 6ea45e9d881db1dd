"""`citeqa eval` end to end on a tiny corpus with the real model: locally, over real HTTP, and on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from service.evaluation import harness, report
from tests.conftest import make_parts, make_settings
from tests.servers import LiveServer

DOCS = {
    "lighthouse.txt": (
        "The Bell Rock Lighthouse stands off the coast of Angus in Scotland. "
        "Robert Stevenson built the Bell Rock Lighthouse between 1807 and 1810. "
        "It is the oldest surviving sea-washed lighthouse in the world. "
        "Its light can be seen from 35 nautical miles away."
    ),
    "bees/honey.md": (
        "# Honey bees\n\nA honey bee colony has one queen, a few hundred drones and thousands of workers. "
        "Worker bees make honey by regurgitating nectar and fanning it until most of the water evaporates. "
        "A worker bee lives for about six weeks in summer."
    ),
    "glass.txt": (
        "Glass is made by melting sand with soda ash and limestone. "
        "Most window glass today is made by the float process, in which molten glass floats on a bed of tin. "
        "The float process was invented by Alastair Pilkington in the 1950s."
    ),
}

QUESTIONS = [
    {"id": "q1", "question": "Who built the Bell Rock Lighthouse?", "answers": ["Robert Stevenson"],
     "evidence": [{"doc": "lighthouse.txt",
                   "text": "Robert Stevenson built the Bell Rock Lighthouse between 1807 and 1810."}],
     "answerable": True},
    {"id": "q2", "question": "How do worker bees make honey?",
     "answers": ["By regurgitating nectar and fanning it until the water evaporates."],
     "evidence": [{"doc": "bees/honey.md", "text": "Worker bees make honey by regurgitating nectar and fanning it "
                                                   "until most of the water  evaporates."}],
     "answerable": True},
    {"id": "q3", "question": "Who invented the float glass process?", "answers": ["Alastair Pilkington"],
     "evidence": [{"doc": "glass.txt", "text": "The float process was invented by Alastair Pilkington in the 1950s."}],
     "answerable": True},
    {"id": "q4", "question": "What is the capital city of Mongolia?", "answers": [], "evidence": [],
     "answerable": False},
    {"id": "q5", "question": "Which football club won the 1994 league title?", "answers": [], "evidence": [],
     "answerable": False},
]


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus"
    for name, text in DOCS.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(text, encoding="utf-8")
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    return corpus, questions


def citeqa(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env["CITEQA_DATA_DIR"] = str(cwd / "store")
    return subprocess.run([sys.executable, "-m", "service.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600, cwd=cwd)


@pytest.mark.slow  # loads the model or starts a server
def test_eval_cli_end_to_end_then_compare_reusing_the_collection(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, questions = tiny
    out = tmp_path / "out"
    first = citeqa("eval", "--corpus", str(corpus), "--questions", str(questions), "--out", str(out), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "added 3" in first.stderr and "citation precision" in first.stdout and "Traceback" not in first.stderr
    results = json.loads((out / "results.json").read_text())
    rows = [json.loads(line) for line in (out / "questions.jsonl").read_text().splitlines()]
    # every row has its confidence; answerable ones the gold sentences cut from the corpus (one space in q2's,
    # where the question file has two); every citation its quote
    assert all(isinstance(row["confidence"], float) and 0.0 <= row["confidence"] <= 1.0 for row in rows)
    assert [g["text"] for row in rows[:3] for g in row["gold"]] == [
        "Robert Stevenson built the Bell Rock Lighthouse between 1807 and 1810.",
        "Worker bees make honey by regurgitating nectar and fanning it until most of the water evaporates.",
        "The float process was invented by Alastair Pilkington in the 1950s."]
    assert all("gold" not in row for row in rows[3:])
    assert all(c["quote"] for row in rows for c in row["citations"])
    # the reliability bins count every answer; the chart and the failures are in the report
    hybrid = results["configs"]["hybrid"]
    assert sum(b["answers"] for b in hybrid["reliability"]) == sum(not row["refused"] for row in rows)
    assert hybrid["ece"] == harness.expected_calibration_error(hybrid["reliability"])
    assert (out / "reliability.png").read_bytes().startswith(b"\x89PNG")
    report_md = (out / "report.md").read_text()
    assert "![reliability](reliability.png)" in report_md and "## Failures" in report_md
    assert "### The worst answers to answerable questions" in report_md and "Configuration: **hybrid**." in report_md
    assert "### The most confident answers to unanswerable questions" in report_md
    assert "### Answers held back: refusals whose closest passage was the answer" in report_md
    target = results["target"]
    assert target["judge"].startswith("judge") and "extractive_margin" not in target
    assert isinstance(target["refuse_threshold"], float) and isinstance(target["sentence_threshold"], float)
    assert target["judge_refuse_threshold"] is None and target["extractive_max_sentences"] == 4

    m = hybrid["metrics"]
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (5, 3, 2)
    assert m["recall@5"] == 1.0 and m["recall@1"] == 1.0 and m["mrr"] == 1.0
    assert m["citation_validity"] == 1.0 and m["support"] == 1.0
    assert m["answered_answerable"] == 1.0 and m["refused_unanswerable"] == 1.0
    assert m["abstention_balanced_accuracy"] == 1.0
    assert m["citation_recall"] == 1.0  # each gold sentence is cited
    assert 0 < m["citation_precision"] <= 1 and m["token_f1"] > 0.2
    assert results["corpus"]["documents"] == 3 and len(results["corpus"]["hash"]) == 64
    assert results["judge"].startswith("offline") and results["versions"]["chromadb"]
    assert [row["id"] for row in rows] == ["q1", "q2", "q3", "q4", "q5"]
    q1 = rows[0]
    assert "Robert Stevenson" in q1["answer"] and any(c["correct"] for c in q1["citations"])
    assert rows[3]["refused"] is True and rows[3]["citations"] == []
    # a refusal says what came closest (an unanswerable question's closest passage is never gold); an answer does not
    closest = rows[3]["closest"]
    assert closest["quote"] and closest["doc_id"] and closest["end"] > closest["start"] and closest["correct"] is False
    assert 0.0 <= closest["probability"] <= 1.0 and "closest" not in q1
    assert (out / "metrics.png").read_bytes().startswith(b"\x89PNG")
    report = (out / "report.md").read_text()
    assert "![headline metrics](metrics.png)" in report and "citation recall" in report

    # the same corpus again: nothing is embedded; three modes in one table; hybrid gives the same figures
    again = citeqa("eval", "--corpus", str(corpus), "--questions", str(questions), "--out", str(tmp_path / "cmp"),
                   "--compare", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "unchanged 3" in again.stderr and "embedded 0 chunks" in again.stderr
    assert "dense" in again.stdout and "bm25" in again.stdout
    compared = json.loads((tmp_path / "cmp" / "results.json").read_text())["configs"]
    assert list(compared) == ["dense", "bm25", "hybrid"]
    assert compared["hybrid"]["metrics"] == m
    assert compared["hybrid"]["reliability"] == hybrid["reliability"] and compared["hybrid"]["ece"] == hybrid["ece"]
    compared_md = (tmp_path / "cmp" / "report.md").read_text()
    assert compared_md.count("## Failures") == 1
    assert "Configuration: **dense** (the first of the comparison)" in compared_md
    assert (tmp_path / "cmp" / "reliability.png").exists()


def test_eval_over_http_against_a_running_server(tiny: tuple[Path, Path], tmp_path: Path, embedder) -> None:
    from service.web.app import create_app

    corpus, questions = tiny
    parts = make_parts(make_settings(tmp_path / "served"), embedder)
    parts.indexer.ingest(corpus, progress=False)
    with LiveServer(create_app(parts.settings, parts)) as server:
        result = CliRunner().invoke(main, [
            "eval", "--corpus", str(corpus), "--questions", str(questions), "--out", str(tmp_path / "http"),
            "--url", server.url, "--limit", "4", "--seed", "3",
        ])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "http" / "results.json").read_text())
    assert results["target"] == {"target": "http", "url": server.url, "top_k": None}
    rows = [json.loads(line) for line in (tmp_path / "http" / "questions.jsonl").read_text().splitlines()]
    assert all(row["confidence"] > 0 for row in rows if not row["refused"])  # read from the JSON of /ask
    assert all(row["closest"]["quote"] for row in rows if row["refused"])  # and the refusal's closest passage
    assert any(row["refused"] for row in rows)
    assert all(g["text"] for row in rows if row["answerable"] for g in row["gold"])
    m = results["configs"]["default"]["metrics"]
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (4, 2, 2)
    assert m["recall@5"] == 1.0 and m["citation_recall"] == 1.0 and m["abstention_balanced_accuracy"] == 1.0


def test_ask_returns_the_ranking_only_when_asked(tiny: tuple[Path, Path], tmp_path: Path, embedder) -> None:
    import httpx

    from service.web.app import create_app

    corpus, _ = tiny
    parts = make_parts(make_settings(tmp_path / "served"), embedder)
    parts.indexer.ingest(corpus, progress=False)
    with LiveServer(create_app(parts.settings, parts)) as server:
        plain = httpx.post(f"{server.url}/ask", json={"question": QUESTIONS[0]["question"]}, timeout=60).json()
        ranked = httpx.post(f"{server.url}/ask", json={"question": QUESTIONS[0]["question"], "retrieved": 2},
                            timeout=60).json()
        bad = httpx.post(f"{server.url}/ask", json={"question": "x?", "retrieved": 0}, timeout=60)
    assert "retrieved" not in plain
    assert [r["rank"] for r in ranked["retrieved"]] == [1, 2]
    assert ranked["retrieved"][0]["doc_id"] == ranked["citations"][0]["doc_id"]
    assert {k: v for k, v in ranked.items() if k not in ("retrieved", "timings_ms")} == {
        k: v for k, v in plain.items() if k != "timings_ms"}
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "retrieved"


def test_malformed_question_file_stops_before_anything_runs(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, questions = tiny
    lines = questions.read_text().splitlines()
    lines[1] = '{"id": "q2", "question": "no closing brace"'
    lines[2] = json.dumps({**QUESTIONS[2], "answerable": "yes"})
    lines.append(json.dumps({**QUESTIONS[0]}))  # a duplicate id
    questions.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["eval", "--corpus", str(corpus), "--questions", str(questions),
                                       "--out", str(tmp_path / "never")])
    assert result.exit_code == 2
    assert "3 malformed line(s); nothing was run" in result.output
    assert "questions.jsonl:2: invalid JSON" in result.output
    assert "questions.jsonl:3: 'answerable' must be true or false" in result.output
    assert "questions.jsonl:6: duplicate id 'q1' (first on line 1)" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "never").exists()


def test_evidence_must_be_found_in_the_corpus(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, questions = tiny
    wrong = [
        {**QUESTIONS[0], "evidence": [{"doc": "nowhere.txt", "text": "x"}]},
        {**QUESTIONS[2], "evidence": [{"doc": "glass", "text": "Glass is made of cheese."}]},
    ]
    questions.write_text("".join(json.dumps(q) + "\n" for q in wrong))
    result = CliRunner().invoke(main, ["eval", "--corpus", str(corpus), "--questions", str(questions),
                                       "--out", str(tmp_path / "never")])
    assert result.exit_code == 2
    assert "line 1 (q1): evidence document 'nowhere.txt' is not in the corpus" in result.output
    assert "line 2 (q3): evidence sentence not found in 'glass'" in result.output


def test_sample_is_stratified_and_seeded() -> None:
    qs = [harness.EvalQuestion(f"q{i}", "?", [], [], i % 4 == 0, i + 1) for i in range(40)]
    first = harness.sample(qs, 8, seed=1)
    assert first == harness.sample(qs, 8, seed=1) and first != harness.sample(qs, 8, seed=2)
    assert sum(q.answerable for q in first) == 2 and [q.line for q in first] == sorted(q.line for q in first)
    assert harness.sample(qs, None, 0) == qs and harness.sample(qs, 100, 0) == qs


def _row(qid: str, answerable: bool, refused: bool, confidence: float, correct: tuple[bool, ...] = (),
         quote: str = "") -> dict:
    """A questions.jsonl row as :func:`service.evaluation.harness.score` writes it, cut down to what the report
    reads."""
    row = {"id": qid, "question": f"Question {qid}?", "answerable": answerable, "refused": refused,
           "confidence": confidence,
           "citations": [{"n": i, "doc_id": "d", "start": 0, "end": 1, "correct": ok,
                          "quote": quote or f"quote {qid}.{i}"} for i, ok in enumerate(correct, start=1)]}
    if answerable:
        row["gold"] = [{"doc_id": "d", "start": 0, "end": 1, "text": f"gold {qid}"}]
    return row


ROWS = [
    _row("a1", True, False, 0.9, (True, False)),  # precision 0.5
    _row("a2", True, False, 0.3, (False,)),  # precision 0
    _row("a3", True, False, 0.8, (False, False)),  # precision 0, more confident than a2
    _row("a4", True, True, 0.1),  # refused: neither a failure nor an answer
    _row("a5", True, False, 0.6, (True,)),  # precision 1
    _row("a6", True, False, 0.7),  # answered citing nothing: precision 0
    _row("u1", False, False, 0.4, (False,), quote="Glass is made by melting sand. " * 20),
    _row("u2", False, True, 0.2),
    _row("u3", False, False, 0.95, (False,)),
]


def test_reliability_bins_and_expected_calibration_error() -> None:
    outcomes = [(0.05, False), (0.95, True), (0.95, True), (0.9, False), (1.0, True), (0.55, True), (0.5, False)]
    bins = harness.reliability(outcomes)
    assert [(b["lo"], b["hi"], b["answers"], b["right"]) for b in bins] == [
        (0.0, 0.1, 1, 0), (0.5, 0.6, 2, 1), (0.9, 1.0, 4, 3)]  # empty bins left out; 1.0 in the last
    assert [b["confidence"] for b in bins] == pytest.approx([0.05, 0.525, 0.95])
    assert [b["observed"] for b in bins] == [0.0, 0.5, 0.75]
    ece = harness.expected_calibration_error(bins)
    assert ece == pytest.approx((1 * 0.05 + 2 * 0.025 + 4 * 0.2) / 7, abs=1e-6)
    calibrated = harness.reliability([(0.75, True)] * 3 + [(0.75, False)])
    assert harness.expected_calibration_error(calibrated) == 0.0
    assert harness.reliability([]) == [] and harness.expected_calibration_error([]) is None
    assert [b["lo"] for b in harness.reliability([(-0.1, False), (1.2, True)])] == [0.0, 0.9]
    # the answers of rows: refusals left out; an unanswerable question's answer is never right
    assert harness.answer_outcomes(ROWS) == [
        (0.9, True), (0.3, False), (0.8, False), (0.6, True), (0.7, False), (0.4, False), (0.95, False)]
    assert not harness.answer_right({**ROWS[6], "citations": [{"correct": True}]})


def test_failures_are_the_worst_answers_and_the_most_confident_wrong_ones() -> None:
    assert [r["id"] for r in report.worst_answered(ROWS)] == ["a3", "a6", "a2", "a1", "a5"]
    assert [r["id"] for r in report.worst_answered(ROWS, n=2)] == ["a3", "a6"]
    assert [r["id"] for r in report.confident_unanswerable(ROWS)] == ["u3", "u1"]
    assert report.answer_precision(ROWS[0]) == 0.5 and report.answer_precision(ROWS[5]) == 0.0
    assert report.quote("a  b\n c") == "a b c"
    long = report.quote("x" * 1000)
    assert len(long) == report.QUOTE_CHARS and long.endswith("…")

    runs = [harness.ConfigRun("bm25", ROWS, {}, {}, {}), harness.ConfigRun("hybrid", [], {}, {}, {})]
    md = report.failures(runs)
    assert md.startswith("## Failures") and "Configuration: **bm25** (the first of the comparison)" in md
    worst, confident = md.split("### The most confident answers to unanswerable questions")
    assert "The 5 worst of the 5 answers to answerable questions" in worst
    assert worst.index("**a3**") < worst.index("**a6**") < worst.index("**a2**") < worst.index("**a1**")
    assert "**a4**" not in md and "**u2**" not in md
    assert "1. **a3**: Question a3? (confidence 0.800, citation precision 0.00)" in worst
    assert "   - cited [1] **wrong** (d): quote a3.1" in worst and "   - gold (d): gold a3" in worst
    assert "   - cited [1] **right** (d): quote a1.1" in worst and "cited nothing" in worst
    assert "The 2 most confident of the 2 answers" in confident
    assert confident.index("**u3**") < confident.index("**u1**") and "(confidence 0.950)" in confident
    [u1_quote] = [line for line in confident.splitlines() if "Glass is made" in line]
    assert u1_quote.endswith("…") and len(u1_quote) < report.QUOTE_CHARS + 30
    empty = report.failures([harness.ConfigRun("hybrid", [], {}, {}, {})])
    assert "No answerable question was answered." in empty and "No unanswerable question was answered." in empty


def test_the_report_shows_the_answers_a_refusal_held_back() -> None:
    """Refused answerable questions whose closest passage was gold are listed, the most probable first; a refusal
    whose closest passage was wrong, and an unanswerable one, are counted out."""
    def refused(qid: str, answerable: bool, probability: float, correct: bool) -> dict:
        return {**_row(qid, answerable, True, 0.2), "closest": {
            "doc_id": "d", "start": 0, "end": 1, "quote": f"closest {qid}", "probability": probability,
            "correct": correct}}

    rows = [*ROWS, refused("r1", True, 0.3, True), refused("r2", True, 0.6, True), refused("r3", True, 0.9, False),
            refused("r4", False, 0.95, False)]
    assert [r["id"] for r in report.held_back(rows)] == ["r2", "r1"]
    md = report.failures([harness.ConfigRun("hybrid", rows, {}, {}, {})])
    held = md.split("### Answers held back: refusals whose closest passage was the answer")[1]
    assert "Of the 4 answerable questions refused, 2 had a gold sentence as the closest passage" in held
    assert held.index("**r2**") < held.index("**r1**") and "**r3**" not in held and "**r4**" not in held
    assert "   - closest (d): closest r2" in held and "closest passage 0.60" in held
    assert "None." in report.failures([harness.ConfigRun("hybrid", ROWS, {}, {}, {})])


def test_report_files_without_a_model(tmp_path: Path) -> None:
    bins = harness.reliability(harness.answer_outcomes(ROWS))
    run = harness.ConfigRun("hybrid", ROWS, {}, {"A": {}, "B": {}}, {}, bins,
                               harness.expected_calibration_error(bins))
    info = {"questions": {"path": "q.jsonl", "count": 9, "in_file": 9, "answerable": 6, "unanswerable": 3,
                          "limit": None, "seed": 0},
            "corpus": {"path": "c", "documents": 1, "hash": "0" * 64}, "target": {"target": "test"}, "judge": "test"}
    first, second = report.write(tmp_path / "1", [run], info), report.write(tmp_path / "2", [run], info)
    assert first["reliability.png"].read_bytes() == second["reliability.png"].read_bytes()  # deterministic
    assert first["reliability.png"].read_bytes().startswith(b"\x89PNG")
    config = json.loads(first["results.json"].read_text())["configs"]["hybrid"]
    assert config["reliability"] == bins and config["ece"] == run.ece and sum(b["answers"] for b in bins) == 7
    md = first["report.md"].read_text()
    assert "![reliability](reliability.png)" in md and f"Expected calibration\nerror: hybrid {run.ece:.3f}" in md
    assert "| hybrid | 0.9-1.0 | 2 | 0.925 | 0.500 |" in md and "## Failures" in md
    rows = [json.loads(line) for line in first["questions.jsonl"].read_text().splitlines()]
    assert rows[0]["gold"] == ROWS[0]["gold"] and rows[0]["confidence"] == 0.9


def test_offline_judge(embedder) -> None:
    from service.evaluation.support_judges import OfflineJudge, lexical_support

    judge = OfflineJudge(embedder)
    span = "Robert Stevenson built the Bell Rock Lighthouse between 1807 and 1810."
    assert lexical_support("Stevenson built the lighthouse.", [span]) == 1.0
    assert judge.supported(span, [span])
    assert judge.supported("The Bell Rock Lighthouse was built by Robert Stevenson.", [span])
    assert not judge.supported("Honey bees live for six weeks.", [span])
    assert not judge.supported("Robert Stevenson built the lighthouse.", [])
    assert judge.name.startswith("offline")


@pytest.mark.slow  # loads the model or starts a server
def test_llm_judge_asks_the_entailment_prompt(openai_server, settings) -> None:
    from service.evaluation.support_judges import LLMJudge

    judge = LLMJudge(settings, "openai/judge-model", openai_server.api_base)
    assert judge.name == "llm: openai/judge-model (prompts/judge_entailment.md)"
    openai_server.content = "Yes."
    assert judge.supported("Stevenson built it.", ["Robert Stevenson built the lighthouse.", "It is old."])
    [request] = openai_server.requests
    assert request["model"] == "judge-model" and request["temperature"] == 0.0
    prompt = request["messages"][0]["content"]
    assert "- Robert Stevenson built the lighthouse.\n- It is old." in prompt and "Claim: Stevenson built it." in prompt
    openai_server.content = "no"
    assert not judge.supported("Stevenson built it.", ["x"])
    openai_server.content = "maybe"
    assert not judge.supported("Stevenson built it.", ["x"]) and judge.unparsed == 1
