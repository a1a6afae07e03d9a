"""One SMTP transaction as the milter saw it, or as `scan` simulates it.

The Transaction is the only input of the engine: the milter fills it stage by stage and the
offline scanner builds it from a stored message, so both paths run the same decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CRLF = b"\r\n"


@dataclass
class Transaction:
    client_ip: str | None = None
    client_port: int | None = None
    client_name: str | None = None
    helo: str | None = None
    auth_user: str | None = None
    mail_from: str = ""
    mail_params: dict[str, str | None] = field(default_factory=dict)
    rcpts: list[str] = field(default_factory=list)
    macros: dict[str, str] = field(default_factory=dict)
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    body_size: int = 0
    max_body: int = 1 << 20
    queue_id: str = ""

    @property
    def body_truncated(self) -> bool:
        return self.body_size > len(self.body)

    def add_body(self, chunk: bytes) -> None:
        """Keep at most ``max_body`` bytes but count them all, so size checks stay true."""
        self.body_size += len(chunk)
        room = self.max_body - len(self.body)
        if room > 0:
            self.body += chunk[:room]

    def raw_message(self) -> bytes:
        """Headers and kept body as one RFC 5322 message, for the MIME parser."""
        head = b"".join(name.encode("ascii", "replace") + b": " + value + CRLF
                        for name, value in self.headers)
        return head + CRLF + bytes(self.body)


def split_mail_params(params: tuple[str, ...] | list[str]) -> dict[str, str | None]:
    """ESMTP parameters such as ``SIZE=123 BODY=8BITMIME`` as an upper-cased dict."""
    out: dict[str, str | None] = {}
    for param in params:
        name, sep, value = param.partition("=")
        out[name.upper()] = value if sep else None
    return out


def strip_brackets(address: str) -> str:
    """``<a@b>`` as given to MAIL FROM / RCPT TO, without the angle brackets."""
    address = address.strip()
    if address.startswith("<") and address.endswith(">"):
        return address[1:-1]
    return address


def transaction_from_bytes(raw: bytes, max_body: int = 1 << 20) -> Transaction:
    """Split a stored message into header fields and body, as Postfix would hand them over.

    Never raises: a message without a header/body separator is all headers if every line looks
    like a header, else all body, which is how a lenient MTA would see it.
    """
    txn = Transaction(max_body=max_body)
    lines = raw.splitlines(keepends=True)
    index = 0
    if lines and lines[0].startswith(b"From "):
        index = 1  # mbox separator line, not part of the message
    current: list[bytes] | None = None
    body_start = len(lines)
    while index < len(lines):
        line = lines[index]
        stripped = line.rstrip(b"\r\n")
        if not stripped:
            body_start = index + 1
            break
        if stripped[:1] in (b" ", b"\t") and current is not None:
            current.append(stripped)
        else:
            name, colon, _ = stripped.partition(b":")
            if not colon or not name or any(c <= 32 or c > 126 for c in name):
                body_start = index  # not a header: the body starts here (a malformed message)
                break
            if current is not None:
                _store_header(txn, current)
            current = [stripped]
        index += 1
    if current is not None:
        _store_header(txn, current)
    for line in lines[body_start:]:
        txn.add_body(line.rstrip(b"\r\n") + CRLF if line.endswith(b"\n") else line)
    return txn


def _store_header(txn: Transaction, folded: list[bytes]) -> None:
    first = folded[0]
    name, _, value = first.partition(b":")
    # Postfix hands a milter the value with continuation lines joined by "\n" + whitespace.
    joined = b"\n".join([value.lstrip(b" \t"), *folded[1:]])
    txn.headers.append((name.decode("ascii", "replace"), joined))
