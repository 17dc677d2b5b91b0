"""Report documents for extraction tests: a real (hand-assembled) PDF and an HTML page."""

from __future__ import annotations


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def make_pdf(lines: list[str], *, title: str | None = None) -> bytes:
    """A one-page PDF 1.4 showing `lines` in Helvetica, with an optional document title."""
    content = ["BT", "/F1 10 Tf", "13 TL", "40 800 Td"]
    content += [f"{_pdf_string(line)} Tj T*" for line in lines]
    content.append("ET")
    stream = "\n".join(content).encode("latin-1")
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    if title is not None:
        bodies.append(b"<< /Title " + _pdf_string(title).encode("latin-1") + b" >>")
    doc = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    positions = []
    for number, body in enumerate(bodies, start=1):
        positions.append(len(doc))
        doc += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    table_at = len(doc)
    doc += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    doc += b"".join(b"%010d 00000 n \n" % pos for pos in positions)
    info = b" /Info %d 0 R" % len(bodies) if title is not None else b""
    doc += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(bodies) + 1, info, table_at)
    return bytes(doc)


def make_html(title: str, paragraphs: list[str], *, script: str = "") -> bytes:
    """An HTML page with a title, navigation, a script and the paragraphs as its article."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head><title>{title}</title><script>{script}</script></head>"
        f"<body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}</article></body></html>"
    ).encode()
