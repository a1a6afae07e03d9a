"""The shape of a message's Received chain, as tokens the text models can learn.

Who handed a message to the receiving MTA says much that the text does not: spam of every era
comes straight from machines with no reverse DNS or a dial-up style name, greets with a bare
word or an IP literal that is not its own, and carries relay lines that no real MTA writes
(SpamAssassin's RDNS_NONE, RDNS_DYNAMIC, HELO_* and FORGED_RCVD rules read the same things).
Solicited bulk mail, which reads like spam, usually comes from a named server of the sender's
own domain.

Only the *shape* is ever a token, never a host name, an address or a date, so nothing learnt
names the corpora's collectors. What is read:

- the receiving side's own hops at the top (no client, a loopback or private client, mailbox
  fetching or local delivery: ``IMAP``, ``POP3``, ``LMTP``, ``local``) are skipped, so the
  first hop left is the one where the receiving MTA took the message from the outside, as
  Postfix's own Received header shows it to a milter;
- that hop's client (``r:mx-``): reverse DNS missing, dynamic-looking or named; a HELO that
  is an IP literal (its own or another), a bare word, or a name in another domain than the
  reverse DNS; an authenticated submission;
- forged-looking relay lines further down: sendmail's "may be forged" mark, a date not in
  RFC 5322 form (obsolete two-digit years allowed), a HELO that is another host's IP literal.
  An unusual protocol after "with" is not one: the SpamAssassin ham's list servers write
  "NNFMP" as often as forgers do.

Deliberately *not* read: how many hops there are and what the relays below the first are
called. In the public corpora those describe mailing-list servers (nearly all of the
SpamAssassin ham is list traffic), and learning them would learn "mailing list = ham". Nor
whether the From domain is the domain of a relay's name: it helped on the 2002 corpora
(5-fold CV), but today most legitimate mail leaves through a provider's relays (a Gmail or
Microsoft 365 sender's relay is never named after its From domain), so it would teach a rule
of 2002 mail servers.
A message without Received headers (the Enron export, mail submitted locally) gets no tokens;
one with an outside hop also gets ``r:any``, which training uses to take out what the mere
presence of a chain says in the corpora (``training.centre_on_negatives``): the Enron ham has
none, so without it every chain would look a little like spam.
"""

from __future__ import annotations

import functools
import ipaddress
import re

MAX_HOPS = 12
_FROM = re.compile(r"\s*from\s+(\S+)\s*(?:\(([^)]*)\))?", re.I)
_IPV4 = re.compile(r"\[?(\d{1,3}(?:\.\d{1,3}){3})\]?")
_BRACKETED = re.compile(r"\[(?:ipv6:)?([0-9a-f:.]*:[0-9a-f:.]*|\d{1,3}(?:\.\d{1,3}){3})\]", re.I)
_WITH = re.compile(r"\bwith\s+([a-z0-9-]+)", re.I)
_RFC_DATE = re.compile(
    r";\s*(?:[a-z]{3},\s*)?\d{1,2}\s+[a-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?\s*(?:[+-]\d{4}|[a-z]{1,5})",
    re.I)
# Reverse DNS names that ISPs give their customers' lines: the address spelt out, or a word for it.
_DYNAMIC = re.compile(
    r"(?:\d{1,3}[.-]){3}\d{1,3}|(?:^|[.-])(?:a?dsl|dial(?:up)?|dyn(?:amic)?|pool|ppp|cable|dhcp|client|"
    r"cust(?:omer)?|modem|broadband|static)\d*(?:[.-]|$)", re.I)
_INTERNAL_PROTOCOLS = frozenset({"imap", "pop3", "lmtp", "local"})
ANY = "r:any"
# Every token received_tokens can return: a closed set, so training can find them all.
TOKENS = (
    ANY, "r:mx-rdns:none", "r:mx-rdns:dynamic", "r:mx-rdns:named", "r:mx-helo:ip-own", "r:mx-helo:ip-other",
    "r:mx-helo:bare", "r:mx-helo:other-domain", "r:mx-authenticated", "r:may-be-forged", "r:odd-date",
    "r:relay-helo:ip-other",
)
_AUTHENTICATED = frozenset({"esmtpa", "esmtpsa", "utf8smtpa", "utf8smtpsa", "lmtpa", "lmtpsa", "asmtp"})


class _Hop:
    """One Received line, read the way sendmail, Postfix, Exim and qmail write it."""

    __slots__ = ("has_client", "helo", "ip", "line", "protocol", "rdns", "rfc_date")

    def __init__(self, value: str):
        self.line = " ".join(value.split())
        found = _FROM.match(self.line)
        self.has_client = found is not None
        helo, comment = (found.group(1), found.group(2) or "") if found else ("", "")
        if comment[:5].upper() == "HELO ":  # qmail: from RDNS (HELO name) (ip)
            rdns, helo = helo, comment[5:].strip()
            ips = _IPV4.findall(self.line.split(" by ", 1)[0])
        elif "helo=" in comment.lower():  # Exim: from RDNS-or-[ip] ([ip] helo=name)
            ips = _BRACKETED.findall(comment) or _BRACKETED.findall(helo) or _IPV4.findall(comment)
            rdns = "" if _ip_literal(helo) else helo
            named = comment[comment.lower().index("helo=") + 5:].split()
            helo = named[0] if named else ""
        else:
            ips = _BRACKETED.findall(comment) or _IPV4.findall(comment) or _IPV4.findall(helo)
            before_ip = comment.split("[", 1)[0].split()
            rdns = before_ip[0] if before_ip else ""
        self.helo = helo.lower()
        self.rdns = rdns.lower().rpartition("@")[2]
        self.ip = ips[-1].lower() if ips else ""
        used = _WITH.search(self.line)
        self.protocol = used.group(1).lower() if used else ""
        self.rfc_date = _RFC_DATE.search(self.line) is not None

    @property
    def internal(self) -> bool:
        """Whether the receiving side wrote it for itself (fetching, local hand-offs)."""
        return (not self.has_client or not self.ip or _private(self.ip)
                or self.protocol in _INTERNAL_PROTOCOLS)


# Addresses that never cross the internet: a hop from one is the receiving site's own.
_INSIDE = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10",
    "0.0.0.0/8", "::1/128", "::/128", "fc00::/7", "fe80::/10"))


@functools.lru_cache(maxsize=4096)
def _ip_literal(text: str) -> str:
    """The address if ``text`` is an IP literal (``1.2.3.4``, ``[1.2.3.4]``, ``[IPv6:...]``)."""
    if not (text[:1].isdigit() or text[:1] == "[" or ":" in text):
        return ""  # a host name: most HELOs, and far cheaper to tell than to parse
    inner = text.strip("[]").lower().removeprefix("ipv6:")
    try:
        return str(ipaddress.ip_address(inner))
    except ValueError:
        return ""


@functools.lru_cache(maxsize=4096)
def _private(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address.version == network.version and address in network for network in _INSIDE)


def _domain(host: str) -> str:
    labels = host.rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _client_tokens(hop: _Hop) -> list[str]:
    out = []
    if not hop.rdns or hop.rdns == "unknown":
        out.append("r:mx-rdns:none")
    elif _DYNAMIC.search(hop.rdns):
        out.append("r:mx-rdns:dynamic")
    else:
        out.append("r:mx-rdns:named")
    literal = _ip_literal(hop.helo)
    if literal:
        out.append("r:mx-helo:ip-own" if literal == _ip_literal(hop.ip) else "r:mx-helo:ip-other")
    elif "." not in hop.helo:
        out.append("r:mx-helo:bare")
    elif hop.rdns and hop.rdns != "unknown" and _domain(hop.helo) != _domain(hop.rdns):
        out.append("r:mx-helo:other-domain")
    if hop.protocol in _AUTHENTICATED:
        out.append("r:mx-authenticated")
    return out


def arrival_hop(client_ip: str | None, client_name: str | None, helo: str | None,
                authenticated: bool) -> str | None:
    """The Received line the MTA is about to write for this connection, in Postfix's spelling.

    Postfix hands a milter the message without its own Received header (tried with Postfix
    3.7: a rule on ``Received`` never sees it), so the hop that matters most would be
    missing live while every stored message has it; the text check puts it back from the
    connection. A client without reverse DNS is ``unknown`` (libmilter gives ``[ip]``).
    """
    if not client_ip:
        return None
    name = client_name or ""
    if not name or name.startswith("[") or name == client_ip:
        name = "unknown"
    protocol = "ESMTPA" if authenticated else "ESMTP"
    address = f"IPv6:{client_ip}" if ":" in client_ip else client_ip
    return f"from {helo or name} ({name} [{address}]) by localhost with {protocol}"


def received_tokens(received: list[str], arrival: str | None = None) -> set[str]:
    """Shape tokens of a Received chain (newest first, as in the message); see the module doc.

    ``arrival`` is the receiving MTA's own hop when the chain lacks it (``arrival_hop``); it
    is left out if the chain already starts with a hop from the same client, as it does when
    the MTA passes its own header (Sendmail) or a stored message is scanned.
    """
    hops = [_Hop(value) for value in received[:MAX_HOPS]]
    if arrival:
        hop = _Hop(arrival)
        if not hops or hops[0].ip != hop.ip:
            hops.insert(0, hop)
    first = next((i for i, hop in enumerate(hops) if not hop.internal), None)
    if first is None:
        return set()
    outside = hops[first:]
    out = {ANY, *_client_tokens(outside[0])}
    for hop in outside:
        if "may be forged" in hop.line:
            out.add("r:may-be-forged")
    for hop in outside[1:]:
        if hop.has_client and not hop.rfc_date:
            out.add("r:odd-date")
        literal = _ip_literal(hop.helo)
        if hop.ip and literal and literal != _ip_literal(hop.ip):
            out.add("r:relay-helo:ip-other")
    return out
