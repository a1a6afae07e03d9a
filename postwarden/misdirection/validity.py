"""Is a recipient address deliverable at all? Syntax by email-validator, domains by MX look-up.

A recipient that cannot be delivered is the clearest misdirection signal, so it flags the
recipient outright. MX look-ups go through dnspython with a hard time budget and a cache; a
look-up that fails or runs out of time says nothing (the mail is not stopped because DNS is
slow), only a definite answer (no such domain, no mail server, a null MX) counts. Only domains
nobody here has written to before are looked up, so ordinary mail costs no DNS at all.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

import dns.exception
import dns.resolver
from email_validator import EmailNotValidError, validate_email

from postwarden.misdirection.history import RecipientEvidence
from postwarden.rules.dns import make_resolver


class AddressValidator:
    def __init__(self, check_mx: bool = True, timeout: float = 0.5, cache_ttl: float = 3600.0,
                 cache_size: int = 10000, resolver: Any = None,
                 nameservers: list[str] | None = None, port: int = 53):
        self.check_mx = check_mx
        self.timeout = timeout
        self.cache_ttl = cache_ttl
        self.cache_size = cache_size
        self.nameservers = list(nameservers or [])
        self.port = port
        self._resolver = resolver
        self._cache: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def _get_resolver(self) -> Any:
        if self._resolver is None:
            resolver = make_resolver(self.nameservers, self.port)
            resolver.lifetime = resolver.timeout = self.timeout
            self._resolver = resolver
        return self._resolver

    @staticmethod
    def syntax_problem(address: str, known_domain: bool = False) -> str:
        """Why the address is malformed, or ''. A domain we already deliver to (a local one,
        or one mailed before) is not second-guessed for being special-use, such as .test."""
        try:
            validate_email(address, check_deliverability=False, allow_smtputf8=True,
                           test_environment=known_domain, globally_deliverable=not known_domain)
        except EmailNotValidError as exc:
            return str(exc)
        return ""

    @classmethod
    def recipient_problem(cls, ev: RecipientEvidence) -> str:
        """``syntax_problem`` of a looked-up recipient, its domain known when it is local or
        anyone here has mailed it. Shared by the check and the evaluation, which counts an
        address flagged this way as the deployment does: stopped whatever its score."""
        return cls.syntax_problem(ev.rcpt.address, known_domain=ev.internal or ev.domain_org is not None)

    def domain_problem(self, domain: str) -> str:
        """'' when the domain can receive mail or we cannot tell in time; else why not."""
        if not self.check_mx:
            return ""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(domain)
            if hit and hit[0] > now:
                self._cache.move_to_end(domain)
                return hit[1]
        problem, cacheable = self._look_up(domain)
        if cacheable:
            with self._lock:
                self._cache[domain] = (now + self.cache_ttl, problem)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return problem

    def _look_up(self, domain: str) -> tuple[str, bool]:
        resolver = self._get_resolver()
        try:
            answer = resolver.resolve(domain, "MX", lifetime=self.timeout)
            exchanges = [str(r.exchange).rstrip(".") for r in answer]
            if exchanges and all(not e for e in exchanges):
                return "the domain accepts no mail (null MX)", True
            return "", True
        except dns.resolver.NXDOMAIN:
            return "the domain does not exist", True
        except dns.resolver.NoAnswer:
            pass
        except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.exception.DNSException):
            return "", False
        try:  # no MX: mail goes to the address record (RFC 5321 5.1)
            resolver.resolve(domain, "A", lifetime=self.timeout)
            return "", True
        except dns.resolver.NoAnswer:
            return "the domain has no mail server", True
        except dns.resolver.NXDOMAIN:
            return "the domain does not exist", True
        except dns.exception.DNSException:
            return "", False
