"""A tiny authoritative DNS server on 127.0.0.1 for DNS-list tests (never the internet)."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rrset


@dataclass
class StubDns:
    """Answers A queries from ``records``; names under a ``silent`` zone get no answer at all."""

    records: dict[str, tuple[list[str], int]] = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)
    negative_ttl: int = 300
    queries: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(data)
            name = query.question[0].name.to_text().rstrip(".").lower()
            self.queries.append(name)
            if any(name.endswith(zone) for zone in self.silent):
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            if name in self.records:
                addresses, ttl = self.records[name]
                response.answer.append(dns.rrset.from_text_list(name + ".", ttl, "IN", "A", addresses))
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
                zone = ".".join(name.split(".")[-2:]) + "."
                response.authority.append(
                    dns.rrset.from_text(
                        zone, 3600, "IN", "SOA", f"ns.{zone} host.{zone} 1 3600 600 86400 {self.negative_ttl}"
                    )
                )
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()
