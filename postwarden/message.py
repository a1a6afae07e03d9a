"""A message parsed once: header values decoded, text, links, attachments and invitations.

Every later stage (rules, models, recipient history) reads this value instead of parsing MIME
again. Parsing never raises: hostile or broken input yields what could be read, and
``defects`` says what was wrong, so the message is still decided and the reasons show why.
"""

from __future__ import annotations

import codecs
import contextlib
import email
import email.policy
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr
from urllib.parse import urlsplit

from postwarden.calendar import CalendarEvent, parse_calendar
from postwarden.filetypes import ARCHIVE_TYPES, archive_members, sniff
from postwarden.htmltext import render_html

MAX_DEPTH = 30
MAX_PARTS = 500
MAX_TEXT_CHARS = 500_000
MAX_HEADER_CHARS = 16_384
MAX_URLS = 500

_URL_IN_TEXT = re.compile(
    r"""(?i)\b(?:https?://(?:\[[0-9a-f:.]{2,45}\])?|www\.)[^\s<>"'()\[\]{}]{1,2000}""")


@dataclass(frozen=True)
class Address:
    name: str
    address: str

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower() if "@" in self.address else ""


@dataclass
class Url:
    url: str
    host: str
    path: str
    anchor_text: str | None = None
    source: str = "text"


@dataclass
class Attachment:
    filename: str
    declared_type: str
    sniffed_type: str
    size: int
    archive_members: list[str] = field(default_factory=list)


@dataclass
class ParsedMessage:
    headers: list[tuple[str, str]] = field(default_factory=list)
    subject: str = ""
    from_: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    sender: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    message_id: str = ""
    text: str = ""
    html_text: str = ""
    hidden_text: str = ""
    urls: list[Url] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    calendar: list[CalendarEvent] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    size: int = 0
    truncated: bool = False

    def header(self, name: str) -> list[str]:
        """All values of a header, in order (names compare case-insensitively)."""
        return list(self._by_name().get(name.lower(), ()))

    def _by_name(self) -> dict[str, list[str]]:
        """Values by lower-case name, built once: the checks ask for a dozen headers each.
        Rebuilt if ``headers`` was replaced or grew, so it never answers for an older list."""
        key = (id(self.headers), len(self.headers))
        cached = self.__dict__.get("_header_index")
        if cached is None or cached[0] != key:
            index: dict[str, list[str]] = {}
            for n, v in self.headers:
                index.setdefault(n.lower(), []).append(v)
            cached = self.__dict__["_header_index"] = (key, index)
        return cached[1]

    def first(self, name: str) -> str | None:
        values = self._by_name().get(name.lower())
        return values[0] if values else None

    @property
    def malformed(self) -> bool:
        return bool(self.defects)


def _latin1_fallback(error: UnicodeError) -> tuple[str, int]:
    """Read bytes that are not UTF-8 as Latin-1, the most common legacy header charset."""
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start:error.end].decode("latin-1"), error.end


codecs.register_error("postwarden-latin1", _latin1_fallback)


def decode_header_value(raw: bytes | str) -> str:
    """RFC 2047 words decoded, raw 8-bit bytes read as UTF-8 (Latin-1 where not); never raises."""
    if isinstance(raw, str):
        # The stdlib parser keeps raw 8-bit header bytes as surrogate escapes.
        raw = raw.encode("utf-8", "surrogateescape")
    text = raw.decode("utf-8", "postwarden-latin1")
    text = text[:MAX_HEADER_CHARS]
    if "=?" in text:
        with contextlib.suppress(Exception):
            text = str(make_header(decode_header(text)))
    return " ".join(text.split())


def _addresses(values: list[str]) -> list[Address]:
    try:
        pairs = getaddresses(values)
    except Exception:
        pairs = [parseaddr(v) for v in values]
    return [Address(name.strip(), addr.strip()) for name, addr in pairs if name or addr]


def _payload_text(part: Message, defects: list[str]) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        defects.append("undecodable-payload")
        return ""
    if not isinstance(data, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except (LookupError, ValueError):
        defects.append(f"unknown-charset:{charset[:40]}")
        return data.decode("latin-1")


def _url(raw: str, anchor: str | None, source: str) -> Url | None:
    raw = raw.strip().strip(".,;:!?")
    if raw.lower().startswith("www."):
        raw = "http://" + raw
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return Url(url=raw, host=host.lower(), path=parts.path, anchor_text=anchor, source=source)


def _part_filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        return ""
    return decode_header_value(name) if name else ""


def _walk(root: Message, parsed: ParsedMessage, visited: list[Message]) -> list[Message]:
    """Leaves of the MIME tree, depth-first, bounded in depth and count."""
    leaves: list[Message] = []
    stack: list[tuple[Message, int]] = [(root, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > MAX_PARTS:
            parsed.defects.append("too-many-parts")
            break
        parsed.content_types.append(part.get_content_type())
        visited.append(part)
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            if depth >= MAX_DEPTH:
                parsed.defects.append("nesting-too-deep")
                continue
            for child in reversed(payload):
                if isinstance(child, Message):
                    stack.append((child, depth + 1))
        else:
            leaves.append(part)
    return leaves


def parse_message(raw: bytes, truncated: bool = False) -> ParsedMessage:
    """Parse an RFC 5322 message (bytes as received); never raises."""
    parsed = ParsedMessage(size=len(raw), truncated=truncated)
    if truncated:
        parsed.defects.append("body-truncated-for-scan")
    try:
        root = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:
        parsed.defects.append(f"unparseable:{type(exc).__name__}")
        parsed.text = raw[:MAX_TEXT_CHARS].decode("utf-8", "replace")
        return parsed
    try:
        _fill(root, parsed)
    except RecursionError:
        parsed.defects.append("nesting-too-deep")
    except Exception as exc:
        parsed.defects.append(f"parse-error:{type(exc).__name__}")
    return parsed


def _fill(root: Message, parsed: ParsedMessage) -> None:
    raw_headers = root._headers
    parsed.headers = [(str(name), decode_header_value(value)) for name, value in raw_headers]
    parsed.subject = parsed.first("Subject") or ""
    parsed.from_ = _addresses(parsed.header("From"))
    parsed.reply_to = _addresses(parsed.header("Reply-To"))
    parsed.sender = _addresses(parsed.header("Sender"))
    parsed.to = _addresses(parsed.header("To"))
    parsed.cc = _addresses(parsed.header("Cc"))
    parsed.message_id = (parsed.first("Message-ID") or "").strip()
    visited: list[Message] = []
    leaves = _walk(root, parsed, visited)
    texts: list[str] = []
    html_texts: list[str] = []
    hidden: list[str] = []
    for part in leaves:
        ctype = part.get_content_type()
        filename = _part_filename(part)
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        is_text = ctype in ("text/plain", "text/html") and not filename and disposition != "attachment"
        if ctype == "text/calendar":
            parsed.calendar.extend(parse_calendar(_payload_text(part, parsed.defects)))
            if not filename:
                continue
        if is_text:
            body = _payload_text(part, parsed.defects)[:MAX_TEXT_CHARS]
            if ctype == "text/html":
                rendered = render_html(body)
                html_texts.append(rendered.text)
                hidden.append(rendered.hidden_text)
                for link in rendered.links[:MAX_URLS]:
                    url = _url(link.href, link.text, "html")
                    if url:
                        parsed.urls.append(url)
                texts.append(rendered.text)
            else:
                texts.append(body)
                for match in _URL_IN_TEXT.finditer(body):
                    url = _url(match.group(0), None, "text")
                    if url:
                        parsed.urls.append(url)
                    if len(parsed.urls) >= MAX_URLS:
                        break
            continue
        if part.get_content_maintype() == "multipart":
            continue  # an empty or broken multipart leaf
        try:
            data = part.get_payload(decode=True)
        except Exception:
            data = None
        data = data if isinstance(data, bytes) else b""
        sniffed = sniff(data)
        members = archive_members(data, sniffed) if sniffed in ARCHIVE_TYPES else []
        parsed.attachments.append(Attachment(filename, ctype, sniffed, len(data), members))
    for part in visited:  # decoding payloads above adds defects (bad base64) to their parts
        for defect in getattr(part, "defects", []):
            name = type(defect).__name__
            if name not in parsed.defects:
                parsed.defects.append(name)
    parsed.text = "\n".join(t for t in texts if t)[:MAX_TEXT_CHARS]
    parsed.html_text = "\n".join(html_texts)[:MAX_TEXT_CHARS]
    parsed.hidden_text = " ".join(h for h in hidden if h)[:MAX_TEXT_CHARS]
    if not parsed.headers:
        parsed.defects.append("no-headers")
