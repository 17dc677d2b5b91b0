"""Readable text and a title from report documents: plain text, HTML and PDF."""

from __future__ import annotations

import io
import re

_BLOCK_TAGS = frozenset(
    """p div li ul ol h1 h2 h3 h4 h5 h6 tr table thead tbody section article header footer pre blockquote
    dd dt dl figure figcaption hr main aside""".split()  # noqa: SIM905 - a word list reads better as text
)
_DROP_TAGS = ("script", "style", "nav", "noscript", "template", "svg", "iframe", "head")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_INLINE_SPACE = re.compile(r"[ \t\r\f\v]+")
_TEXT_TYPES = ("text/plain", "text/csv", "text/markdown", "application/json")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_PDF_TYPES = ("application/pdf",)
_NON_SPACE = re.compile(r"\S")  # \s is str.isspace(), which every str.splitlines() boundary is
_LINE_BREAK = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")  # str.splitlines()' boundaries


def _kind(data: bytes, content_type: str | None, filename: str | None) -> str:
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    name = (filename or "").lower()
    if mime in _PDF_TYPES or name.endswith(".pdf") or data.startswith(b"%PDF-"):
        return "pdf"
    if mime in _HTML_TYPES or name.endswith((".html", ".htm", ".xhtml")):
        return "html"
    head = data[:512].lstrip().lower()
    if not mime and head.startswith((b"<!doctype html", b"<html")):
        return "html"
    if mime in _TEXT_TYPES or mime.startswith("text/") or name.endswith((".txt", ".md", ".csv", ".log", ".json")):
        return "text"
    if not mime or mime == "application/octet-stream":
        return "text" if b"\x00" not in data[:4096] else "binary"
    return "unsupported"


def _decode(data: bytes, content_type: str | None) -> str:
    charset = None
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"')
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    try:
        return data.decode(charset or "utf-8")
    except (UnicodeDecodeError, LookupError):
        return data.decode("cp1252", "replace")


def _tidy(text: str) -> str:
    lines = [_INLINE_SPACE.sub(" ", line).strip() for line in text.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _html(data: bytes, content_type: str | None) -> tuple[str, str | None]:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(_decode(data, content_type))
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node is not None else ""
    tree.strip_tags(list(_DROP_TAGS))
    body = tree.body or tree.root
    if body is None:
        return "", title or None
    # Mark block boundaries so paragraphs, list items and table rows stay on their own lines.
    for node in body.traverse(include_text=False):
        if node.tag in _BLOCK_TAGS:
            node.insert_before("\n")
            node.insert_after("\n")
        elif node.tag == "br":
            node.insert_after("\n")
        elif node.tag in ("td", "th"):
            node.insert_after(" | ")
    text = _tidy(body.text(deep=True, separator=""))
    if not title:
        h1 = tree.css_first("h1")
        title = h1.text(strip=True) if h1 is not None else ""
    return text, title or None


def _pdf(data: bytes) -> tuple[str, str | None]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValueError("the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata is not None else None
    except (PdfReadError, OSError, KeyError, TypeError, AttributeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"unreadable PDF: {reason}") from exc
    text = _tidy("\n\n".join(pages))
    title = (meta_title or "").strip() or next((line for line in text.splitlines() if line.strip()), "")
    return text, title or None


def _first_line(text: str) -> str:
    """The first line of text that is not blank, stripped, as text.splitlines() would give it, without splitting
    a large report into its hundred thousand lines (bench_extract.py)."""
    first = _NON_SPACE.search(text)
    if first is None:
        return ""
    # Everything before the first non-space character is space: the line runs from it to the next break.
    end = _LINE_BREAK.search(text, first.start())
    return text[first.start() : end.start() if end is not None else len(text)].rstrip()


def text_from_bytes(data: bytes, content_type: str | None, filename: str | None) -> tuple[str, str | None]:
    """(text, title) of a text, HTML or PDF document; ValueError with a one-line reason otherwise."""
    kind = _kind(data, content_type, filename)
    if kind == "pdf":
        return _pdf(data)
    if kind == "html":
        return _html(data, content_type)
    if kind == "text":
        text = _decode(data, content_type)
        if "\r" in text:  # one memchr pass: replace() scans a large text for "\r\n" ten times slower
            text = text.replace("\r\n", "\n")
        return text, _first_line(text)[:200] or None
    described = content_type or filename or "unknown type"
    raise ValueError(f"unsupported document type: {described}")
