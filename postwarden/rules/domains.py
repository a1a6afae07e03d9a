"""Host names as a mail filter sees them: registered domains, IP literals, punycode.

A link's registered domain (``example.co.uk`` for ``login.example.co.uk``) is what an
anchor-text comparison and a URIBL lookup need. The full Public Suffix List is a moving,
200 KB dependency; the multi-label suffixes below cover the second-level registries that
phishing actually uses, and an unknown one only makes a comparison coarser (``a.b.example``
keeps two labels), never wrong in the dangerous direction of calling two owners the same.
"""

from __future__ import annotations

import functools
import ipaddress
import re

# Common public suffixes with two labels (registrations happen one label below them).
MULTI_LABEL_SUFFIXES = frozenset((
    "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk", "sch.uk", "nhs.uk",
    "com.au", "net.au", "org.au", "edu.au", "gov.au", "id.au", "asn.au", "co.nz", "org.nz", "net.nz",
    "govt.nz", "ac.nz", "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp", "gr.jp", "co.kr", "or.kr", "ne.kr",
    "go.kr", "com.br", "net.br", "org.br", "gov.br", "com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn",
    "com.hk", "org.hk", "net.hk", "edu.hk", "gov.hk", "com.tw", "org.tw", "net.tw", "edu.tw", "com.sg",
    "org.sg", "net.sg", "edu.sg", "gov.sg", "com.my", "org.my", "net.my", "com.mx", "org.mx", "gob.mx",
    "com.ar", "org.ar", "gob.ar", "com.tr", "org.tr", "net.tr", "gov.tr", "com.ru", "org.ru", "net.ru",
    "com.ua", "org.ua", "net.ua", "co.in", "net.in", "org.in", "firm.in", "gen.in", "ind.in", "co.za",
    "org.za", "gov.za", "web.za", "co.il", "org.il", "ac.il", "com.pl", "net.pl", "org.pl", "co.id",
    "or.id", "web.id", "com.vn", "net.vn", "com.ph", "net.ph", "com.pk", "net.pk", "com.ng", "com.eg",
    "com.sa", "co.th", "in.th", "github.io", "blogspot.com", "herokuapp.com", "azurewebsites.net",
    "cloudfront.net", "appspot.com", "firebaseapp.com", "web.app", "pages.dev", "workers.dev",
    "netlify.app", "vercel.app"
))

_DOMAIN = re.compile(r"(?i)^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)*"
                     r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_NUMERIC_HOST = re.compile(r"(?i)^(?:0x[0-9a-f]+|\d+)(?:\.(?:0x[0-9a-f]+|\d+)){0,3}$")


def is_domain(text: str) -> bool:
    """Whether ``text`` is a syntactically valid DNS name (labels, no empty parts)."""
    return bool(_DOMAIN.match(text))


def is_ip_literal(host: str) -> bool:
    """An address instead of a name, including the forms browsers still accept.

    ``http://3232235777/`` and ``http://0xC0.0xA8.1.1/`` both reach 192.168.1.1 in a browser,
    and phishers use them precisely because they do not look like addresses.
    """
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    if not _NUMERIC_HOST.match(host):
        return False
    if host.isdigit():
        return int(host) >= 1 << 24  # one 32-bit number; small ones are more likely typos
    return True


def is_punycode(host: str) -> bool:
    """An internationalised host, encoded (``xn--``) or not (non-ASCII letters)."""
    return not host.isascii() or any(label.startswith("xn--") for label in host.split("."))


def registered_domain(host: str) -> str:
    """The part of ``host`` an owner registers: ``login.example.co.uk`` -> ``example.co.uk``."""
    host = host.lower().rstrip(".")
    if is_ip_literal(host):
        return host.strip("[]")
    labels = host.split(".")
    if len(labels) <= 2:
        return host
    if ".".join(labels[-2:]) in MULTI_LABEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


@functools.lru_cache(maxsize=8192)
def suffixes(domain: str) -> tuple[str, ...]:
    """``A.b.example.`` -> ``("a.b.example", "b.example", "example")`` for suffix lookups.

    Cached: a thousand list rules ask about the same few hosts of a message.
    """
    labels = domain.lower().rstrip(".").split(".")
    return tuple(".".join(labels[i:]) for i in range(len(labels)))


def in_domains(domain: str, domains: frozenset[str] | set[str]) -> bool:
    """Whether ``domain`` is one of ``domains`` or a subdomain of one."""
    return bool(domain) and not domains.isdisjoint(suffixes(domain))


class DomainList:
    """A domain list as a value test: ``example.com`` matches itself and its subdomains.

    ``any_of`` answers for many values at once from the union of their suffixes, one C-level
    set intersection instead of one test per value (a newsletter has hundreds of links).
    """

    __slots__ = ("domains",)

    def __init__(self, domains: frozenset[str] | set[str]):
        self.domains = domains

    def __call__(self, domain: str) -> bool:
        return in_domains(domain, self.domains)

    def any_of(self, all_suffixes: frozenset[str]) -> bool:
        return not self.domains.isdisjoint(all_suffixes)


def suffix_union(domains: list[str]) -> frozenset[str]:
    """Every suffix of every domain, for DomainList.any_of."""
    return frozenset(s for d in domains if d for s in suffixes(d))
