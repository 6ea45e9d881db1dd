from __future__ import annotations

import json
from pathlib import Path

from ingest.loaders import LoadProblem, html_to_text, load_path
from tests.files import tiny_pdf


def load(target: Path) -> tuple[list, list[LoadProblem]]:
    problems: list[LoadProblem] = []
    _, documents = load_path(target, problems)
    return documents, problems


def test_text_markdown_html_pdf_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Plain title\nPlain text body.")
    (tmp_path / "b.md").write_text("# Markdown Title\n\nSome *markdown* text.")
    (tmp_path / "c.html").write_text(
        "<html><head><title>Page</title><style>p{color:red}</style></head><body><h1>Head</h1>"
        "<p>Visible &amp; kept.</p><script>alert('x')</script><p>Second.</p></body></html>"
    )
    (tmp_path / "d.pdf").write_bytes(tiny_pdf(["A sentence in a PDF.", "Another line."]))
    (tmp_path / "e.jsonl").write_text(
        json.dumps({"id": "p1", "title": "One", "text": "First passage."}) + "\n"
        + json.dumps({"id": "p2", "title": "Two", "text": "Second passage."}) + "\n"
    )
    docs, problems = load(tmp_path)
    assert problems == []
    by_source = {d.source: d for d in docs}
    assert by_source["a.txt"].title == "Plain title"
    assert by_source["b.md"].title == "Markdown Title"
    html = by_source["c.html"]
    assert html.title == "Page" and html.text == "Head\nVisible & kept.\nSecond."
    assert "A sentence in a PDF." in by_source["d.pdf"].text
    assert [d.id for d in docs if d.source.startswith("e.jsonl")] == ["p1", "p2"]
    assert by_source["e.jsonl#p1"].title == "One"
    assert len({d.id for d in docs}) == len(docs)


def test_bad_files_are_reported_and_the_rest_loads(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Good text.")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (tmp_path / "empty.md").write_text("   \n")
    (tmp_path / "c.jsonl").write_text('{"id": "ok", "text": "Fine."}\nnot json\n{"id": "x"}\n{"text": "no id"}\n')
    (tmp_path / ".hidden.txt").write_text("ignored")
    docs, problems = load(tmp_path)
    assert sorted(d.source for d in docs) == ["c.jsonl#ok", "good.txt"]
    reasons = {p.source: p.reason for p in problems}
    assert reasons["image.png"] == "unsupported file type '.png'"
    assert "not UTF-8" in reasons["latin1.txt"]
    assert "binary" in reasons["binary.txt"]
    assert reasons["broken.pdf"].startswith("unreadable")
    assert "no text" in reasons["empty.md"]
    assert "invalid JSON" in reasons["c.jsonl:2"]
    assert "'text'" in reasons["c.jsonl:3"]
    assert "'id'" in reasons["c.jsonl:4"]


def test_html_drops_scripts_styles_and_handlers() -> None:
    title, text = html_to_text("<p onclick='x()'>Hi<img src=x onerror=alert(1)></p><noscript>no</noscript>")
    assert (title, text) == ("", "Hi")


def test_single_file_target(tmp_path: Path) -> None:
    path = tmp_path / "one.txt"
    path.write_text("Only this.")
    docs, problems = load(path)
    assert [d.source for d in docs] == ["one.txt"] and not problems
