"""Small real files for loader tests."""

from __future__ import annotations

from pathlib import Path


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def pdf_pages(pages: list[list[str]], title: str | None = None) -> bytes:
    """A valid PDF with one page per item of ``pages``, each showing its lines in Helvetica (pypdf extracts them
    back), and ``title`` in its document information when given."""
    count = len(pages)
    font = 3 + 2 * count  # objects: 1 catalog, 2 pages, then a page and its contents per page, the font, the info
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
    ]
    for i, lines in enumerate(pages):
        text_ops = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"{_pdf_string(line)} Tj T*" for line in lines) + " ET"
        stream = text_ops.encode("latin-1")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
                       f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode())
        objects.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    info = ""
    if title is not None:
        objects.append(f"<< /Title {_pdf_string(title)} >>".encode("latin-1"))
        info = f" /Info {len(objects)} 0 R"
    return pdf_file(objects, info)


def tiny_pdf(lines: list[str]) -> bytes:
    """A valid one-page PDF showing ``lines`` in Helvetica (pypdf extracts them back)."""
    return pdf_pages([lines])


def write_docx(path: Path, title: str | None = None) -> Path:
    """A small Word file, written by python-docx as Word would: a Title, headings, a paragraph, bullet and
    numbered lists and a table."""
    import docx

    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    document.add_paragraph("Keeping Bees in Small Gardens", style="Title")
    document.add_heading("Where hives go", level=1)
    document.add_paragraph("A hive needs morning sun and shelter from the wind. Most keepers face the entrance "
                           "south-east, about 2.5 m from a path.")
    document.add_paragraph("Water within 50 m", style="List Bullet")
    document.add_paragraph("Flowers from March to October", style="List Bullet")
    document.add_heading("First season", level=1)
    document.add_paragraph("Order a nucleus colony in winter", style="List Number")
    document.add_paragraph("Inspect the brood every 9 days", style="List Number")
    table = document.add_table(rows=2, cols=2)
    for (row, col), text in {(0, 0): "Month", (0, 1): "Task", (1, 0): "April", (1, 1): "Add a super"}.items():
        table.cell(row, col).text = text
    document.save(str(path))
    return path


PDF_FONTS = {"Helvetica": "F1", "Helvetica-Bold": "F2", "Courier": "F3"}


def pdf_laid_out(lines: list[tuple[float, float, list[tuple[str, float, str]]]]) -> bytes:
    """A valid one-page PDF (US Letter, points from the bottom left) showing each line at its place: ``(x, y of the
    baseline, [(font, size, text), ...])``, the runs of a line one after the other, in Helvetica,
    Helvetica-Bold or Courier."""
    ops = []
    for x, y, runs in lines:
        shown = " ".join(f"/{PDF_FONTS[font]} {size:g} Tf {_pdf_string(text)} Tj" for font, size, text in runs)
        ops.append(f"BT 1 0 0 1 {x:g} {y:g} Tm {shown} ET")
    stream = "\n".join(ops).encode("latin-1")
    fonts = " ".join(f"/{key} {5 + i} 0 R" for i, key in enumerate(PDF_FONTS.values()))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        f"/Resources << /Font << {fonts} >> >> >>".encode(),
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        *(f"<< /Type /Font /Subtype /Type1 /BaseFont /{name} >>".encode() for name in PDF_FONTS),
    ]
    return pdf_file(objects)


def pdf_file(objects: list[bytes], info: str = "") -> bytes:
    """A PDF file of numbered ``objects`` (object 1 the catalog), with its cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
