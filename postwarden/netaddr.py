"""IP network lists, parsed once and matched quickly."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str) -> IPAddress | None:
    """An address as SMTP and headers write it (``[192.0.2.1]``), IPv4-mapped IPv6 as IPv4."""
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def parse_network(text: str) -> IPNetwork:
    """Parse ``10.0.0.0/8``, ``::1`` or ``192.0.2.1`` (host bits set is an error worth seeing)."""
    return ipaddress.ip_network(text.strip(), strict=True)


def check_networks(values: list[str]) -> str | None:
    for value in values:
        try:
            parse_network(value)
        except ValueError as exc:
            return f"expected CIDR networks such as 10.0.0.0/8 or ::1/128, got {value!r} ({exc})"
    return None


class NetworkSet:
    """A set of IPv4 and IPv6 networks with a membership test for address strings."""

    def __init__(self, networks: Iterable[str | IPNetwork]):
        self.networks = [n if not isinstance(n, str) else parse_network(n) for n in networks]

    def __contains__(self, address: str | None) -> bool:
        ip = parse_ip(address) if address else None
        if ip is None:
            return False
        return any(ip.version == n.version and ip in n for n in self.networks)
