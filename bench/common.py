"""What the benchmarks share: the machine's description, the corpus, timing, and writing bench/RESULTS.md.

Each benchmark writes its own section of RESULTS.md (between ``<!-- bench:NAME -->`` markers), with the machine,
the command and the date, so re-running one benchmark replaces only its own figures.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
CACHE = ROOT / "bench" / ".cache"
CLAPNQ = Path(os.environ.get("CITEQA_BENCH_CLAPNQ", ROOT.parent / "shared" / "eval" / "clapnq"))
CORPUS = CLAPNQ / "corpus.jsonl"
QUESTIONS = CLAPNQ / "questions.jsonl"
INTRO = "# Benchmark results\n\nWritten by the benchmarks under bench/ (see bench/README.md), a section each.\n"


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        ram = f"{mem_kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, AttributeError):
        ram = "? RAM"
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, {ram}; load average at start {load}"


def command() -> str:
    return " ".join(shlex.quote(part) for part in [".venv/bin/python", "-m", _module(), *sys.argv[1:]])


def _module() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return spec.name if spec else Path(sys.argv[0]).stem


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def write_section(name: str, title: str, lines: Sequence[str], header: str) -> None:
    """Replace (or add) the section ``name`` of RESULTS.md, stamped with machine, command and date."""
    body = "\n".join([
        f"<!-- bench:{name} -->",
        f"## {title}",
        "",
        f"- command: `{command()}`",
        f"- date: {now()}",
        f"- machine: {header}",
        "",
        *lines,
        f"<!-- /bench:{name} -->",
    ])
    text = RESULTS.read_text() if RESULTS.exists() else INTRO
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: body, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + body
    RESULTS.write_text(text.rstrip("\n") + "\n")
    print(f"\nwrote section {name!r} of {RESULTS.relative_to(ROOT)}")


def emit(lines: list[str], line: str) -> None:
    print(line, flush=True)
    lines.append(line)


@contextmanager
def timed() -> Iterator[list[float]]:
    box: list[float] = []
    started = time.perf_counter()
    yield box
    box.append(time.perf_counter() - started)


def best_and_median(values: Sequence[float]) -> str:
    return f"median {statistics.median(values):.2f} (runs: {', '.join(f'{v:.2f}' for v in values)})"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def corpus_records(limit: int | None = None) -> list[dict[str, Any]]:
    with CORPUS.open() as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    return records[:limit] if limit else records


def write_corpus(path: Path, limit: int | None) -> Path:
    """A .jsonl corpus of ``limit`` CLAPnq passages (all when None): half of them gold passages of answerable
    questions (so a quick run can still measure recall), the rest the first others."""
    records = corpus_records()
    if limit:
        gold = list(dict.fromkeys(e["doc"] for q in questions() for e in q["evidence"]))[: limit // 2]
        others = [r for r in records if r["id"] not in set(gold)][: limit - len(gold)]
        by_id = {r["id"]: r for r in records}
        records = [by_id[doc] for doc in gold if doc in by_id] + others
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path


def questions() -> list[dict[str, Any]]:
    with QUESTIONS.open() as handle:
        return [json.loads(line) for line in handle if line.strip()]


def settings(data_dir: Path, **overrides: Any) -> Any:
    from service.settings import Settings

    return Settings(_env_file=None, data_dir=data_dir, **overrides)  # type: ignore[call-arg]


def alternate(runs: int, *steps: Callable[[int], None]) -> None:
    """Run the steps side by side ``runs`` times, reversing their order every other run (fair to both)."""
    for run in range(runs):
        for step in steps if run % 2 == 0 else tuple(reversed(steps)):
            step(run)
