"""DNS list lookups with a per-message time budget and a cache that honours TTLs.

A DNS list is only worth asking while the SMTP client waits, so every message gets a fixed
budget (``rules.dns.budget`` seconds) for all of its lookups together and every query at most
``rules.dns.timeout`` of what is left. A query that times out, fails, or finds the budget spent
is a non-hit, and the message's reasons say so (``DNS_TIMEOUT`` / ``DNS_ERROR``): a slow
resolver costs a few points of detection, never a stalled MTA.

Answers, listed or not, are cached for their TTL (a negative answer for the zone's SOA
minimum), shared by all milter threads. Failures are not cached.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from postwarden.netaddr import parse_ip
from postwarden.rules.facts import Budget

DEFAULT_NEGATIVE_TTL = 60
MAX_TTL = 86400


@dataclass(frozen=True)
class Lookup:
    """Addresses a name resolved to (empty: not listed), or None with the reason it failed."""

    addresses: tuple[str, ...] | None
    error: str = ""
    timed_out: bool = False
    cached: bool = False


def reverse_ip(address: str) -> str | None:
    """``192.0.2.1`` -> ``1.2.0.192``; IPv6 as nibbles, the way DNSBLs are asked."""
    ip = parse_ip(address)
    return ip.reverse_pointer.rsplit(".", 2)[0] if ip is not None else None


def _negative_ttl(exc: Exception) -> int:
    """The SOA minimum from a negative answer's authority section, else a default."""
    try:
        responses = exc.responses().values() if isinstance(exc, dns.resolver.NXDOMAIN) else [
            exc.kwargs.get("response")]  # type: ignore[attr-defined]
        for response in responses:
            for rrset in getattr(response, "authority", []) or []:
                if rrset.rdtype == dns.rdatatype.SOA:
                    return min(rrset.ttl, rrset[0].minimum)
    except Exception:  # an odd response shape must not turn a "not listed" into an error
        pass
    return DEFAULT_NEGATIVE_TTL


def make_resolver(nameservers: list[str], port: int) -> dns.resolver.Resolver:
    """A resolver asking ``nameservers`` on ``port``, or those of /etc/resolv.conf when none are
    given (127.0.0.1 on a machine without one): the DNS lists and the MX checks of the
    recipient history are set up the same way."""
    if nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = list(nameservers)
    else:
        try:
            resolver = dns.resolver.Resolver(configure=True)
        except dns.resolver.NoResolverConfiguration:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    return resolver


class DnsLists:
    """Thread-safe A-record lookups for DNS lists, through dnspython or an injected resolver.

    An injected resolver needs dnspython's ``resolve(qname, rdtype, lifetime=..., search=...)``
    contract; tests use a stub server on loopback or such an object, never the internet.
    """

    def __init__(self, nameservers: list[str] | None = None, port: int = 53, timeout: float = 1.0,
                 budget: float = 2.0, cache_entries: int = 10000, resolver: Any | None = None):
        self.nameservers = list(nameservers or [])
        self.port = port
        self.timeout = timeout
        self.budget_seconds = budget
        self.cache_entries = cache_entries
        self._resolver = resolver
        self._cache: dict[str, tuple[float, tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        self.queries = 0  # sent to the resolver, for tests and the benchmark

    def _get_resolver(self) -> Any:
        if self._resolver is None:
            resolver = make_resolver(self.nameservers, self.port)
            resolver.cache = None  # ours honours the budget and is shared; one cache is enough
            self._resolver = resolver
        return self._resolver

    def _cached(self, qname: str) -> tuple[str, ...] | None:
        with self._lock:
            entry = self._cache.get(qname)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._cache[qname]
                return None
            return entry[1]

    def _store(self, qname: str, addresses: tuple[str, ...], ttl: int) -> None:
        if ttl <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._cache) >= self.cache_entries:
                for key in [k for k, (expires, _) in self._cache.items() if expires <= now]:
                    del self._cache[key]
                while len(self._cache) >= self.cache_entries:  # oldest insertions first
                    del self._cache[next(iter(self._cache))]
            self._cache[qname] = (now + min(ttl, MAX_TTL), addresses)

    def lookup(self, qname: str, budget: Budget) -> Lookup:
        """The A records of ``qname`` within what is left of the message's budget."""
        qname = qname.lower().rstrip(".")
        cached = self._cached(qname)
        if cached is not None:
            return Lookup(cached, cached=True)
        remaining = budget.remaining()
        if remaining <= 0:
            return Lookup(None, "message DNS budget spent", timed_out=True)
        lifetime = min(self.timeout, remaining)
        self.queries += 1
        try:
            answer = self._get_resolver().resolve(qname + ".", "A", lifetime=lifetime, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer) as exc:
            self._store(qname, (), _negative_ttl(exc))
            return Lookup(())
        except dns.exception.Timeout:
            return Lookup(None, f"timed out after {lifetime:.2f}s", timed_out=True)
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            return Lookup(None, f"{type(exc).__name__}: {exc}"[:200])
        addresses = tuple(sorted({r.address for r in answer}))
        ttl = answer.rrset.ttl if answer.rrset is not None else DEFAULT_NEGATIVE_TTL
        self._store(qname, addresses, ttl)
        return Lookup(addresses)
