"""PDF text as a reader sees it: a line the page sets apart (a heading, a signature, a code line, the next
paragraph) starts a new block, so no sentence runs into it, while a hard-wrapped paragraph stays one block.
Every PDF here is a real one (:func:`tests.files.pdf_laid_out`), read by pypdf through the loader. Also: a package
METADATA header saved as Markdown is one field a line, never one long sentence."""

from __future__ import annotations

from pathlib import Path

from ingest.chunking import split_sentences
from ingest.loaders import LoadProblem, load_path
from ingest.models import Document
from tests.files import pdf_laid_out, pdf_pages

H, B, C = "Helvetica", "Helvetica-Bold", "Courier"


def load_one(path: Path) -> Document:
    problems: list[LoadProblem] = []
    _, documents = load_path(path, problems)
    assert problems == []
    (document,) = documents
    return document


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def pdf(tmp_path: Path, lines: list[tuple[float, float, list[tuple[str, float, str]]]]) -> Document:
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf_laid_out(lines))
    return load_one(path)


def test_a_sentence_does_not_run_into_an_indented_line_set_below_it(tmp_path: Path) -> None:
    # realdocs-051: "...the Node.js event loop is\ndoing." then, further down and indented, "callback <Function>"
    doc = pdf(tmp_path, [
        (72, 700, [(H, 10, "A timer calls a function after a period of time. When a timer function")]),
        (72, 688, [(H, 10, "is called depends on what other work the event loop is")]),
        (72, 676, [(H, 10, "doing.")]),
        (90, 652, [(C, 10, "callback"), (H, 10, " <Function> The function to call at the end of the loop")]),
    ])
    assert doc.text == (
        "A timer calls a function after a period of time. When a timer function\n"
        "is called depends on what other work the event loop is\ndoing.\n\n"
        "callback <Function> The function to call at the end of the loop")
    assert sentences(doc.text) == [
        "A timer calls a function after a period of time.",
        "When a timer function\nis called depends on what other work the event loop is\ndoing.",
        "callback <Function> The function to call at the end of the loop"]
    # without the blank line the sentence would swallow the next line (it starts in lower case)
    assert sentences(doc.text.replace("\n\n", "\n"))[-1].endswith("doing.\ncallback <Function> The function to "
                                                                   "call at the end of the loop")


def test_a_signature_line_is_a_block_of_its_own(tmp_path: Path) -> None:
    # realdocs-052: a C signature line between a sentence and the indented description under it
    doc = pdf(tmp_path, [
        (72, 700, [(H, 10, "To call a function using an initialized ffi_cif, use the ffi_call function:")]),
        (72, 676, [(B, 10, "Function: "), (H, 10, "void ffi_call (ffi_cif *cif, void *fn, void *rvalue)")]),
        (96, 652, [(H, 10, "This calls the function fn according to the description given in cif. cif must have")]),
        (96, 640, [(H, 10, "already been prepared using ffi_prep_cif.")]),
        (96, 616, [(H, 10, "rvalue is a pointer to a chunk of memory that will hold the result.")]),
    ])
    assert sentences(doc.text) == [
        "To call a function using an initialized ffi_cif, use the ffi_call function:",
        "Function: void ffi_call (ffi_cif *cif, void *fn, void *rvalue)",
        "This calls the function fn according to the description given in cif. cif must have\n"
        "already been prepared using ffi_prep_cif.",
        "rvalue is a pointer to a chunk of memory that will hold the result."]


def test_a_heading_in_a_larger_font_and_a_code_line_are_not_swallowed(tmp_path: Path) -> None:
    # no extra space at all: the font size, and the monospaced font, set them apart
    doc = pdf(tmp_path, [
        (72, 700, [(H, 10, "Timers run when the event loop is idle.")]),
        (72, 686, [(B, 14, "setImmediate(callback)")]),
        (72, 672, [(H, 10, "schedules the callback after I/O events. Use it like")]),
        (72, 660, [(H, 10, "this, from any module.")]),
        (72, 648, [(C, 10, "const immediate = setImmediate(run);")]),
        (72, 636, [(H, 10, "Then the callback runs once.")]),
    ])
    assert sentences(doc.text) == [
        "Timers run when the event loop is idle.", "setImmediate(callback)",
        "schedules the callback after I/O events.", "Use it like\nthis, from any module.",
        "const immediate = setImmediate(run);", "Then the callback runs once."]
    joined = sentences(doc.text.replace("\n\n", "\n"))  # what the splitter made of pypdf's lines as they were
    assert joined[1] == "setImmediate(callback)\nschedules the callback after I/O events."
    assert joined[-1] == ("Use it like\nthis, from any module.\nconst immediate = setImmediate(run);\n"
                          "Then the callback runs once.")


def test_a_hard_wrapped_paragraph_stays_one_sentence(tmp_path: Path) -> None:
    # evenly spaced lines at one indentation in one font: wrapped, whatever starts them (a capital, inline code)
    lines = [
        "The harbour of Velmora was opened to steam ships in",
        "March 1911 by the harbour board, and the first ships that",
        "docked there used the setTimeout() tables",
        "printed by the board.",
    ]
    doc = pdf(tmp_path, [
        (72, 700, [(H, 10, lines[0])]),
        (72, 688, [(H, 10, lines[1])]),
        (72, 676, [(H, 10, "docked there used the "), (C, 10, "setTimeout()"), (H, 10, " tables")]),
        (72, 664, [(C, 10, "printed"), (H, 10, " by the board.")]),
    ])
    assert doc.text == "\n".join(lines)
    assert sentences(doc.text) == [doc.text]


def test_wrapped_list_items_stay_whole_and_paragraphs_apart_are_blocks(tmp_path: Path) -> None:
    # a numbered list with hanging indentation (a line that goes back to the margin after a full stop starts a
    # block), the paragraphs after it set apart by space only
    doc = pdf(tmp_path, [
        (72, 700, [(H, 10, "1. Memcheck is a memory error detector. It checks programs, particularly those")]),
        (86, 688, [(H, 10, "written in C and C++.")]),
        (72, 676, [(H, 10, "2. Callgrind is a profiler. It has some overlap with")]),
        (86, 664, [(H, 10, "Cachegrind, but gathers more.")]),
        (72, 640, [(H, 10, "Valgrind is closely tied to details of the CPU and operating system, and to")]),
        (72, 628, [(H, 10, "the compiler.")]),
        (72, 604, [(H, 10, "Nonetheless, it supports a number of")]),
        (72, 592, [(H, 10, "widely-used platforms.")]),
    ])
    assert doc.text.split("\n\n") == [
        "1. Memcheck is a memory error detector. It checks programs, particularly those\nwritten in C and C++.",
        "2. Callgrind is a profiler. It has some overlap with\nCachegrind, but gathers more.",
        "Valgrind is closely tied to details of the CPU and operating system, and to\nthe compiler.",
        "Nonetheless, it supports a number of\nwidely-used platforms."]
    assert sentences(doc.text)[1:] == [
        "It checks programs, particularly those\nwritten in C and C++.", "Callgrind is a profiler.",
        "It has some overlap with\nCachegrind, but gathers more.",
        "Valgrind is closely tied to details of the CPU and operating system, and to\nthe compiler.",
        "Nonetheless, it supports a number of\nwidely-used platforms."]


def test_evenly_set_lines_keep_their_text_and_pages(tmp_path: Path) -> None:
    # pypdf's lines as they are when nothing sets them apart; pages still start where they did
    first = ["Harbour Safety Report", "The harbour of Velmora opened in 1911. Ships", "docked there every day."]
    second = ["The lighthouse keeper retired in 1950.", "His daughter kept the light until 1972."]
    (tmp_path / "report.pdf").write_bytes(pdf_pages([first, second]))
    doc = load_one(tmp_path / "report.pdf")
    assert doc.text == "\n".join(first) + "\n\n" + "\n".join(second)
    assert doc.pages == ((1, 0), (2, len("\n".join(first)) + 2))
    assert doc.title == "Harbour Safety Report"


def test_package_metadata_saved_as_markdown_is_one_field_a_line(tmp_path: Path) -> None:
    # realdocs-001: Markdown runs the header's lines together into one paragraph, cited as one sentence
    (tmp_path / "harbour.md").write_text(
        "Metadata-Version: 2.4\nName: harbour\nVersion: 1.2.0\nSummary: Tide tables for small harbours.\n"
        "Requires-Python: >=3.10\nDescription-Content-Type: text/markdown\n\n"
        "# Harbour\n\nReads **tide tables** from `NOAA` files.\nWorks offline.\n")
    (tmp_path / "untitled.md").write_text(
        "Metadata-Version: 2.4\nName: quay\nSummary: Quay maps\n\nDraws *quay* maps.\n")
    doc = load_one(tmp_path / "harbour.md")
    assert doc.title == "Harbour"
    assert doc.text == ("Metadata-Version: 2.4\nName: harbour\nVersion: 1.2.0\n"
                        "Summary: Tide tables for small harbours.\nRequires-Python: >=3.10\n"
                        "Description-Content-Type: text/markdown\n\nHarbour\n\n"
                        "Reads tide tables from NOAA files. Works offline.")
    assert sentences(doc.text)[:5] == ["Metadata-Version: 2.4", "Name: harbour", "Version: 1.2.0",
                                       "Summary: Tide tables for small harbours.", "Requires-Python: >=3.10"]
    untitled = load_one(tmp_path / "untitled.md")
    assert untitled.title == "quay: Quay maps"
    assert untitled.text == "Metadata-Version: 2.4\nName: quay\nSummary: Quay maps\n\nDraws quay maps."
