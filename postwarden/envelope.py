"""An SMTP envelope guessed from a stored message, for `scan` without envelope options.

A stored message lost its envelope; its headers still say most of it. The sender comes from
Return-Path (else From), the recipients from To/Cc/Bcc (else Delivered-To/X-Original-To), and
the client from the topmost Received header, the one the receiving MTA wrote.
"""

from __future__ import annotations

import ipaddress
import re
from email.utils import getaddresses

from postwarden.message import decode_header_value
from postwarden.transaction import Transaction, strip_brackets

_RECEIVED_IP = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")
_RECEIVED_FROM = re.compile(r"^\s*from\s+(\S+)(?:\s+\(([^\s)]*)\s*\[)?", re.I)


def _values(txn: Transaction, name: str) -> list[str]:
    lower = name.lower()
    return [decode_header_value(v) for n, v in txn.headers if n.lower() == lower]


def _client_from_received(received: str) -> tuple[str | None, str | None, str | None]:
    """(ip, reverse name, helo) from one Received header, or Nones."""
    ip = None
    for candidate in _RECEIVED_IP.findall(received.split(" by ", 1)[0]):
        try:
            ip = str(ipaddress.ip_address(candidate))
            break
        except ValueError:
            continue
    helo = rdns = None
    match = _RECEIVED_FROM.match(received)
    if match:
        helo = match.group(1)
        rdns = match.group(2) or None
    return ip, rdns, helo


def fill_envelope_from_headers(txn: Transaction) -> None:
    """Fill what the options left empty; existing values are kept."""
    if not txn.mail_from:
        for name in ("Return-Path", "From"):
            pairs = getaddresses(_values(txn, name))
            if pairs and pairs[0][1]:
                txn.mail_from = strip_brackets(pairs[0][1])
                break
    if not txn.rcpts:
        for names in (("To", "Cc", "Bcc"), ("Delivered-To", "X-Original-To")):
            values = [v for name in names for v in _values(txn, name)]
            txn.rcpts = [addr for _, addr in getaddresses(values) if "@" in addr]
            if txn.rcpts:
                break
    if txn.client_ip is None:
        received = _values(txn, "Received")
        if received:
            ip, rdns, helo = _client_from_received(received[0])
            txn.client_ip = ip
            txn.client_name = txn.client_name or rdns or (f"[{ip}]" if ip else None)
            txn.helo = txn.helo or helo
