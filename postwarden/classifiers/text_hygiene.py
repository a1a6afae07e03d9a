"""Which headers the text models may learn from, and which they must never see.

The public corpora carry headers a live MTA does not have when postwarden runs at end of
message: verdicts of other filters, headers added at final delivery or by the mail client
afterwards, mailing-list and archive headers, and the export headers of the Enron dataset.
A model that learns them learns the corpus, not the mail ("has X-Spam-Status: No = ham",
"has List-Id = ham", "has X-Folder = ham"). They are removed before featurising. The peer
filters of ``scripts/compare_peers.py`` get the message without other filters' verdicts only.

Removed (names compare case-insensitively; ``*`` is a prefix):

- other filters' verdicts: ``X-Spam*``, ``X-Virus*``, ``X-Amavis*``, ``X-AV-*``, ``X-Bogosity``,
  ``X-DSPAM*``, ``X-CRM114*``, ``X-Rspamd*``, ``X-Barracuda*``, ``X-Proofpoint*``,
  ``X-IronPort*``, ``X-Microsoft-Antispam*``, ``X-Forefront-Antispam*``, ``X-MS-Exchange-*``,
  ``X-Razor*``, ``X-Pyzor*``, ``X-DCC*``, ``X-Scanned*``, ``X-Filter*``, ``X-Quarantine*``,
  ``X-Postwarden*`` and ``X-Sieve*``;
- trace and authentication results added by the receiving side (ours or the corpus
  collector's): ``Received``, ``Authentication-Results``, ``ARC-*``, ``Received-SPF``,
  ``X-Received``, ``X-Original-*``, ``X-Originating-Email``;
- final delivery and mail-client state: ``Return-Path``, ``Delivered-To``, ``Envelope-To``,
  ``X-Envelope-*``, ``X-UIDL``, ``Status``, ``X-Status``, ``X-Keywords``, ``X-Mozilla-*``,
  ``X-Evolution*``, ``X-Gmail-*``, ``X-Label*``, ``Lines``, ``Content-Length``;
- mailing lists and archives: ``List-*``, ``X-List*``, ``Mailing-List``, ``X-Mailing-List``,
  ``X-BeenThere``, ``X-Mailman*``, ``X-Loop``, ``Precedence``, ``Errors-To``, ``Sender``,
  ``X-Egroups*``, ``X-Yahoo*``, ``X-Archive*``, ``Archived-At``;
- the Enron export: ``X-From``, ``X-To``, ``X-cc``, ``X-bcc``, ``X-Folder``, ``X-Origin``,
  ``X-FileName``;
- dates: ``Date``, ``Resent-*``, ``Expires`` (dates and years are never features).

Of what is left, the featuriser reads only the allowlisted sender-side headers in
``SENDER_HEADERS`` (plus Subject, From, Reply-To, To, Cc and the MIME headers through the
parsed message); every other header name is ignored, so a header peculiar to one corpus
cannot become a feature by accident. The one exception is the Received chain: ``received``
skips the receiving side's own hops and turns the rest into shape tokens (reverse DNS and
HELO of the client the receiving MTA took the message from, forged-looking relay lines),
never into names, addresses or dates.
"""

from __future__ import annotations

import re

_VERDICT_PREFIXES = (
    "x-spam", "x-virus", "x-amavis", "x-av-", "x-dspam", "x-crm114", "x-rspamd", "x-barracuda",
    "x-proofpoint", "x-ironport", "x-microsoft-antispam", "x-forefront-antispam", "x-razor",
    "x-pyzor", "x-dcc", "x-scanned", "x-filter", "x-quarantine", "x-postwarden",
)
_STRIP_PREFIXES = (
    "x-spam", "x-virus", "x-amavis", "x-av-", "x-dspam", "x-crm114", "x-rspamd", "x-barracuda",
    "x-proofpoint", "x-ironport", "x-microsoft-antispam", "x-forefront-antispam", "x-ms-exchange-",
    "x-razor", "x-pyzor", "x-dcc", "x-scanned", "x-filter", "x-quarantine", "x-postwarden",
    "x-sieve", "arc-", "x-original-", "x-envelope-", "x-mozilla-", "x-evolution", "x-gmail-",
    "x-label", "list-", "x-list", "x-mailman", "x-egroups", "x-yahoo", "x-archive", "resent-",
)
_STRIP_NAMES = frozenset({
    "x-bogosity", "received", "authentication-results", "received-spf", "x-received",
    "x-originating-email", "return-path", "delivered-to", "envelope-to", "x-uidl", "status",
    "x-status", "x-keywords", "lines", "content-length", "mailing-list", "x-mailing-list",
    "x-beenthere", "x-loop", "precedence", "errors-to", "sender", "archived-at", "x-from", "x-to",
    "x-cc", "x-bcc", "x-folder", "x-origin", "x-filename", "date", "expires",
})

# Headers set by the sending side that say something about how the mail was made.
SENDER_HEADERS = (
    "x-mailer", "user-agent", "x-priority", "x-msmail-priority", "x-mimeole", "importance",
    "organization", "in-reply-to", "references", "mime-version", "x-originating-ip",
    "content-class", "thread-index", "x-accept-language", "disposition-notification-to",
    "message-id", "reply-to", "cc",
)


def verdict_header(name: str) -> bool:
    """Whether a header is another filter's verdict (the first group of the list above)."""
    lower = name.strip().lower()
    return lower == "x-bogosity" or lower.startswith(_VERDICT_PREFIXES)


def stripped(name: str) -> bool:
    """Whether a header is one the models must not see (see the module docstring)."""
    lower = name.strip().lower()
    return lower in _STRIP_NAMES or lower.startswith(_STRIP_PREFIXES)


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FIELD_START = re.compile(rb"^([!-9;-~]+):")


def clean_raw(raw: bytes, verdicts_only: bool = False) -> bytes:
    """The message bytes without stripped headers (and without a leading mbox From line).

    ``verdicts_only`` removes only other filters' verdicts: that is what the peer filters get
    in ``scripts/compare_peers.py``, since SpamAssassin's rules need Date and Received as a
    live MTA has them.
    """
    drop = verdict_header if verdicts_only else stripped
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    end = _HEADER_END.search(raw)
    head, body = (raw[: end.start()], raw[end.start():]) if end else (raw, b"")
    kept: list[bytes] = []
    keep = True
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept.append(line)
            continue
        found = _FIELD_START.match(line)
        keep = not (found and drop(found.group(1).decode("latin-1")))
        if keep:
            kept.append(line)
    out = b"".join(kept)
    if body and out.endswith(b"\n"):
        out = out[:-2] if out.endswith(b"\r\n") else out[:-1]
    return out + body
