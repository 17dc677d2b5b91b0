"""Document text and titles: plain text, HTML and PDF, and clear refusals."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter

from accord.extract import extract
from accord.extract.documents import text_from_bytes


def _pdf(lines: list[str], title: str | None = None) -> bytes:
    """A minimal one-page PDF with the given lines in Helvetica, built by hand."""
    ops = ["BT", "/F1 11 Tf", "14 TL", "50 780 Td"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    data = out.getvalue()
    if title is None:
        return data
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.add_metadata({"/Title": title})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_plain_text_is_returned_with_first_line_as_title() -> None:
    text, title = text_from_bytes(b"Weekly report\r\nC2 at 185.220.101.47\r\n", "text/plain; charset=utf-8", None)
    assert text == "Weekly report\nC2 at 185.220.101.47\n"
    assert title == "Weekly report"


def test_text_charset_is_honoured() -> None:
    text, _ = text_from_bytes("Café evil-site.com".encode("latin-1"), "text/plain; charset=latin-1", None)
    assert text == "Café evil-site.com"


def test_html_drops_scripts_styles_and_navigation_and_keeps_blocks() -> None:
    html = b"""<html><head><title>Operation Example</title><style>p{color:red}</style>
    <script>var c2 = "script-only.com";</script></head><body><nav>Home | Blog</nav>
    <h1>Heading</h1><p>The C2 was <b>evil-site[.]com</b>.</p><ul><li>drop.exe</li><li>load.dll</li></ul>
    <table><tr><td>185.220.101.47</td><td>C2</td></tr></table></body></html>"""
    text, title = text_from_bytes(html, "text/html", None)
    assert title == "Operation Example"
    assert "script-only.com" not in text
    assert "color" not in text
    assert "Home" not in text
    lines = text.splitlines()
    assert "The C2 was evil-site[.]com." in lines
    assert "drop.exe" in lines
    assert "load.dll" in lines
    assert any(line.startswith("185.220.101.47 | C2") for line in lines)
    assert {f.value for f in extract(text)} >= {"evil-site.com", "drop.exe", "load.dll", "185.220.101.47"}


def test_html_title_falls_back_to_first_heading() -> None:
    _, title = text_from_bytes(b"<html><body><h1>Only heading</h1><p>x</p></body></html>", None, "r.html")
    assert title == "Only heading"


def test_pdf_text_and_metadata_title() -> None:
    data = _pdf(["Threat report", "Beacon to evil-site[.]com and 185.220.101.47"], title="Quarterly threats")
    text, title = text_from_bytes(data, "application/pdf", "report.pdf")
    assert title == "Quarterly threats"
    assert "185.220.101.47" in text
    assert {f.value for f in extract(text)} >= {"evil-site.com", "185.220.101.47"}


def test_pdf_title_falls_back_to_first_line() -> None:
    _, title = text_from_bytes(_pdf(["Intrusion summary", "nothing else"]), None, "x.pdf")
    assert title == "Intrusion summary"


@pytest.mark.parametrize(
    ("data", "content_type", "filename"),
    [
        (b"\x89PNG\r\n\x1a\n", "image/png", "a.png"),
        (b"%PDF-1.7 truncated", "application/pdf", "broken.pdf"),
        (b"PK\x03\x04\x00\x00binary", "application/zip", "a.zip"),
    ],
)
def test_unsupported_or_unreadable_documents_raise_one_line_value_error(
    data: bytes, content_type: str, filename: str
) -> None:
    with pytest.raises(ValueError) as info:
        text_from_bytes(data, content_type, filename)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("\n\n  \t\n  APT report: C2 at 1.2.3.4  \nmore", "APT report: C2 at 1.2.3.4"),
        ("\r\n\r\nFirst line\r\nsecond", "First line"),
        # Every str.splitlines() boundary ends the title line, not only "\n".
        ("\u2028 Title\u2029body", "Title"),
        ("\x0cTitle\x0bnext", "Title"),
        ("Title\x1cnext", "Title"),
        ("\xa0\u3000 Title with no break", "Title with no break"),
    ],
)
def test_text_title_is_the_first_non_blank_line(raw: str, title: str) -> None:
    _, found = text_from_bytes(raw.encode("utf-8"), None, "report.txt")
    assert found == title


def test_text_title_of_blank_text_is_none_and_long_title_is_cut() -> None:
    assert text_from_bytes(b" \n\t\n", None, "blank.txt")[1] is None
    assert text_from_bytes(b"x" * 300 + b"\nrest", None, "long.txt")[1] == "x" * 200


def test_text_crlf_becomes_lf_and_lone_cr_stays() -> None:
    text, _ = text_from_bytes(b"a\r\nb\rc\n", None, "r.txt")
    assert text == "a\nb\rc\n"
