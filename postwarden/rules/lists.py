"""List files: one entry per line, ``#`` starts a comment, for lists too long for a rule.

A rule names a list file relative to the file the rule is in (``list: lists/freemail.txt``).
What an entry must look like depends on the matcher that uses it:

- ``domain``: a domain name; it matches itself and its subdomains (``example.com`` matches
  ``mail.example.com``). A leading ``*.`` or ``.`` is accepted and means the same.
- ``address``: ``user@example.com`` matches that address; ``@example.com`` or ``example.com``
  matches every address in that domain and its subdomains.
- ``ip``: an address or CIDR network, IPv4 or IPv6 (``192.0.2.0/24``, ``2001:db8::/32``).
- ``text``: a string compared whole (case-insensitively unless the rule says otherwise).
- ``extension``: a file name extension with or without its dot (``exe``, ``.scr``).

Every bad entry is reported with the list file and its line. A list file used by several rules
is read once per load.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from postwarden import listfile
from postwarden.netaddr import parse_ip as parse_netaddr_ip
from postwarden.rules.domains import in_domains, is_domain
from postwarden.schema import Problem

KINDS = ("domain", "address", "ip", "text", "extension")


class NetworkIndex:
    """CIDR membership in a few set lookups (one per distinct prefix length), not a scan."""

    def __init__(self, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = ()):
        self._by_prefix: dict[tuple[int, int], set[int]] = {}
        self.size = 0
        for network in networks:
            self.add(network)

    def add(self, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
        key = (network.version, network.prefixlen)
        self._by_prefix.setdefault(key, set()).add(int(network.network_address))
        self.size += 1

    def __contains__(self, address: str) -> bool:
        parsed = parse_ip(address)
        if parsed is None:
            return False
        ip_version, value, bits = parsed
        for (version, prefix), networks in self._by_prefix.items():
            if version == ip_version and (value >> (bits - prefix) << (bits - prefix)) in networks:
                return True
        return False


@functools.lru_cache(maxsize=4096)
def parse_ip(address: str) -> tuple[int, int, int] | None:
    """(version, integer, bits) of an address, IPv4-mapped IPv6 as IPv4; cached per address."""
    ip = parse_netaddr_ip(address)
    return (ip.version, int(ip), ip.max_prefixlen) if ip is not None else None


@dataclass
class AddressSet:
    """Whole addresses plus domains whose every address matches."""

    addresses: set[str] = field(default_factory=set)
    domains: set[str] = field(default_factory=set)

    def __contains__(self, address: str) -> bool:
        address = address.lower()
        return address in self.addresses or in_domains(address.rpartition("@")[2], self.domains)

    def __len__(self) -> int:
        return len(self.addresses) + len(self.domains)


def parse_entry(kind: str, entry: str, case_sensitive: bool = False) -> tuple[object, str]:
    """One list entry as a value to store, or ``(None, what was expected)``."""
    if kind == "domain":
        domain = entry.lower().removeprefix("*.").removeprefix(".").rstrip(".")
        return (domain, "") if is_domain(domain) else (None, "expected a domain name such as example.com")
    if kind == "address":
        text = entry.lower()
        local, at, domain = text.rpartition("@")
        domain = domain.rstrip(".")
        if not is_domain(domain) or (at and local and any(c.isspace() for c in local)):
            return None, "expected user@example.com, @example.com or example.com"
        return ((local + "@" + domain) if local else ("@" + domain)), ""
    if kind == "ip":
        try:
            return ipaddress.ip_network(entry, strict=True), ""
        except ValueError as exc:
            return None, f"expected an IP address or CIDR network such as 192.0.2.0/24 ({exc})"
    if kind == "extension":
        ext = listfile.extension(entry)
        return (ext, "") if ext else (None, "expected a file name extension such as exe")
    return (entry if case_sensitive else entry.lower()), ""


def build_container(kind: str, values: list[object]) -> object:
    """The lookup structure for a kind: a set, an AddressSet or a NetworkIndex."""
    if kind == "ip":
        return NetworkIndex(values)  # type: ignore[arg-type]
    if kind == "address":
        result = AddressSet()
        for value in values:
            text = str(value)
            if text.startswith("@"):
                result.domains.add(text[1:])
            else:
                result.addresses.add(text)
        return result
    return frozenset(values)


@dataclass
class LoadedList:
    path: Path
    kind: str
    container: object
    entries: int


class ListStore:
    """Reads each (file, kind) once per load and remembers what it read for the summary."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[Path, str, bool], LoadedList] = {}
        self.files: set[Path] = set()

    def load(self, path: Path, kind: str, case_sensitive: bool,
             problems: list[Problem]) -> LoadedList | None:
        key = (path.resolve(), kind, case_sensitive)
        if key in self._loaded:
            return self._loaded[key]
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(str(path), 0, "", f"list file is not UTF-8 text: {exc}"))
            return None
        values: list[object] = []
        before = len(problems)
        for number, entry in listfile.entries(text):
            value, expected = parse_entry(kind, entry, case_sensitive)
            if value is None:
                problems.append(Problem(str(path), number, "", f"{expected}, got {entry!r}"))
                continue
            values.append(value)
        if len(problems) > before:
            return None
        loaded = LoadedList(path, kind, build_container(kind, values), len(values))
        self._loaded[key] = loaded
        self.files.add(key[0])
        return loaded

    @property
    def entries(self) -> int:
        """Entries over distinct files (a file used as two kinds counts once)."""
        seen: dict[Path, int] = {}
        for (path, _, _), loaded in self._loaded.items():
            seen[path] = max(seen.get(path, 0), loaded.entries)
        return sum(seen.values())
