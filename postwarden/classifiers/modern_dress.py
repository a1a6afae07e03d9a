"""A message re-sent the way a mail client or provider of today would send it.

The public corpora are mail of 2002-2005: most of the ham is plain text in US-ASCII or Latin-1,
written by a mail server of the sender's own site, while the spam of those years was often HTML.
A model trained on them learns that an HTML part, UTF-8, quoted-printable or a Message-ID made
under another domain than the From's are signs of spam. Today they are signs of nothing: almost
every message from Gmail, Microsoft 365 or a mailing service is ``multipart/alternative`` with an
HTML part, in UTF-8, with a Message-ID under the provider's domain, and no ``X-Mailer``.

``dress`` rewrites only that envelope of form and keeps what the message says: the same headers
(but those four), the same text, the same links. With ``attach`` it also gives the message back
the document business mail carries (a PDF): the Enron export has had its attachments removed
and the 2002 list mail hardly had any, so the corpora cannot show that an attachment is ordinary.
With ``https`` every ``http://`` link becomes ``https://``, as the same sites are linked today:
the ham of 2002 linked over http, the phishing of 2015-2018 more often over https.
The robustness tests and ``scripts/eval_modern_dress.py`` check that held-out ham dressed this
way is not flagged more often than as it came. Training does not use dressed copies: that cost
recall (BENCHMARKS.md).
"""

from __future__ import annotations

import hashlib
import html
import re
from email import message_from_bytes
from email.charset import BASE64, QP, Charset
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from postwarden.htmltext import render_html

# Where today's mail gets its Message-ID: the big providers and a mailing service.
_PROVIDERS = (
    "mail.gmail.com",
    "{box}.namprd{n:02d}.prod.outlook.com",
    "{box}.eurprd{n:02d}.prod.outlook.com",
    "smtp-relay.mailin.fr",
    "mta.mcsv.net",
)
_DOCUMENTS = ("report.pdf", "minutes.pdf", "scan.pdf", "document.pdf", "agenda.pdf")
_HTTP = re.compile(r"(?i)\bhttp://")
_REPLACED = frozenset({"content-type", "content-transfer-encoding", "mime-version", "message-id",
                       "x-mailer", "user-agent"})


def _charset(encoding: str) -> Charset:
    cs = Charset("utf-8")
    cs.body_encoding = QP if encoding == "qp" else BASE64
    return cs


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "latin-1"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("latin-1")


def _https(text: str) -> str:
    return _HTTP.sub("https://", text)


def _upgrade_parts(message: Message) -> None:
    """Every text part of a multipart ``message`` with its links made https, in UTF-8."""
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text" or part.get_filename():
            continue
        text = _text_of(part)
        upgraded = _https(text)
        if upgraded != text:
            del part["Content-Transfer-Encoding"]
            part.set_payload(upgraded, _charset("qp"))


def _html_of_text(text: str) -> str:
    lines = "<br>\n".join(html.escape(line) for line in text.splitlines())
    return f'<div dir="ltr">{lines}</div>\n'


def _pdf(title: str) -> bytes:
    """A small well-formed one-page PDF (what the sniffer and a reader see as a PDF)."""
    body = (b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
            b"2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n"
            b"3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]>> endobj\n"
            b"4 0 obj <</Title (" + title.encode() + b")>> endobj\n")
    return body + b"trailer <</Root 1 0 R /Info 4 0 R>>\n%%EOF\n"


def _with_document(message: Message, digest: bytes) -> Message:
    """``message`` inside a multipart/mixed with a PDF after it, as a client attaches a file."""
    name = _DOCUMENTS[digest[24] % len(_DOCUMENTS)]
    outer = MIMEMultipart("mixed")
    for header, value in message.items():
        if header.lower() not in _REPLACED:
            outer[header] = value
    body = Message()
    for header in ("Content-Type", "Content-Transfer-Encoding"):
        if message[header]:
            body[header] = message[header]
    body.set_payload(message.get_payload())
    outer.attach(body)
    document = MIMEApplication(_pdf(name), "pdf")
    document.add_header("Content-Disposition", "attachment", filename=name)
    outer.attach(document)
    return outer


def dress(raw: bytes, seed: bytes | None = None, attach: bool = False,
          https: bool = False) -> bytes | None:
    """The message as a client of today would send it, or None when its body cannot be read.

    A single text part becomes ``multipart/alternative`` (the plain text and an HTML rendering of
    it, or the HTML and its visible text); a message that already has parts keeps its body.
    ``attach`` adds a PDF document after the body; ``https`` makes every http link https. The
    choices (provider, quoted-printable or base64, the document's name) follow ``seed``, so a
    copy is reproducible.
    """
    digest = hashlib.sha256(b"postwarden-dress:" + (seed if seed is not None else raw)).digest()
    try:
        original = message_from_bytes(raw)
        kind = original.get_content_type()
        if original.is_multipart():
            dressed: Message = message_from_bytes(raw)
            for name in ("Message-ID", "X-Mailer", "User-Agent"):
                del dressed[name]
            if https:
                _upgrade_parts(dressed)
        else:
            if kind == "text/plain":
                plain = _text_of(original)
                markup = _html_of_text(plain)
            elif kind == "text/html":
                markup = _text_of(original)
                plain = render_html(markup).text
            else:
                return None
            if https:
                plain, markup = _https(plain), _https(markup)
            cs = _charset("qp" if digest[0] & 1 else "b64")
            dressed = MIMEMultipart("alternative")
            dressed.attach(MIMEText(plain, "plain", cs))
            dressed.attach(MIMEText(markup, "html", cs))
            for name, value in original.items():
                if name.lower() not in _REPLACED:
                    dressed[name] = value
        if attach:
            dressed = _with_document(dressed, digest)
        provider = _PROVIDERS[digest[1] % len(_PROVIDERS)].format(
            box=digest[2:7].hex().upper(), n=digest[7] % 20)
        dressed["Message-ID"] = f"<{digest[8:24].hex()}@{provider}>"
        return dressed.as_bytes()
    except (LookupError, ValueError, TypeError, UnicodeError, AttributeError):
        return None
