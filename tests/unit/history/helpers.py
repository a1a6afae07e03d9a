"""Building outbound messages and an engine with the recipient history switched on."""

from __future__ import annotations

from pathlib import Path

from postwarden.config import load_config
from postwarden.engine import Engine
from postwarden.transaction import transaction_from_bytes

SECRET = "unit-test-site-secret-0123456789"


def config_file(tmp_path: Path, extra: str = "", store: str = "sqlite", redis_url: str = "") -> Path:
    path = tmp_path / "postwarden.yaml"
    path.write_text(f"""
internal_networks: [10.0.0.0/8]
local_domains: [example.com]
rules: {{enabled: false}}
recipient_history:
  enabled: true
  store: {store}
  sqlite_path: {tmp_path / "history.sqlite"}
  redis_url: "{redis_url or 'redis://127.0.0.1:6379/0'}"
  redis_prefix: "t{abs(hash(str(tmp_path)))}:"
  secret: {SECRET}
  check_mx: false
  min_sender_messages: 5
{extra}""")
    return path


def engine(tmp_path: Path, extra: str = "", learn: bool = True, **kw: str) -> Engine:
    return Engine(load_config(config_file(tmp_path, extra, **kw)), learn=learn)


def message(rcpts: list[str], subject: str = "Quarterly figures", body: str = "Here are the figures.",
            sender: str = "alice@example.com", auth: str | None = "alice", ip: str = "192.0.2.1",
            message_id: str = ""):
    mid = f"Message-ID: {message_id}\r\n" if message_id else ""
    raw = (f"From: Alice <{sender}>\r\nTo: {', '.join(rcpts)}\r\nSubject: {subject}\r\n{mid}"
           f"Date: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\n{body}\r\n").encode()
    txn = transaction_from_bytes(raw)
    txn.mail_from, txn.rcpts, txn.auth_user, txn.client_ip = sender, list(rcpts), auth, ip
    return txn


def teach(eng: Engine, rounds: int = 12) -> None:
    """Alice's usual mail: John and Mary at acme.com, her colleague Bob."""
    for i in range(rounds):
        eng.decide(message(["john.smith@acme.com"], f"Contract {i}", "John, the contract draft."))
        eng.decide(message(["mary.jones@acme.com", "john.smith@acme.com"], f"Meeting {i}",
                           "Mary and John, the meeting agenda."))
        eng.decide(message(["bob@example.com"], f"Lunch {i}", "Bob, lunch today?"))
