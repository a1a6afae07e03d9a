"""URL matchers: hosts and registered domains of the links, and the tricks phishing uses.

``url_host`` and ``url_domain`` lists match subdomains (``example.com`` matches
``login.example.com``); ``url_domain`` is the registered domain (``example.co.uk``).

    - url_host: {list: lists/url-shorteners.txt}
    - url_domain: {regex: '\\.(zip|mov)$'}
    - url: {regex: '/wp-(admin|includes)/.*\\.php'}
    - url_count: {min: 30}
    - url_ip_literal: true           # http://192.0.2.7/, http://3232235777/
    - url_punycode: true             # http://xn--pypal-4ve.com/
    - url_anchor_mismatch: true      # <a href="http://evil.example">www.bank.example</a>
"""

from __future__ import annotations

from postwarden.rules.domains import is_ip_literal, is_punycode, registered_domain
from postwarden.rules.facts import Facts
from postwarden.rules.regex import compile_regex
from postwarden.rules.registry import flag_matcher, value_matcher

FAMILY = "urls"
# Anchor text that is itself a link or a bare domain (and nothing else).
_SHOWN_URL = compile_regex(r"^\s*(?:https?://)?(?:[^\s/@:]+@)?((?:[a-z0-9-]+\.)+[a-z]{2,63})\.?"
                           r"(?::\d+)?(?:[/?#]\S*)?\s*$")[0]  # RE2: linear on any anchor text
_EXPLICIT = compile_regex(r"^\s*(?:https?://|www\.)")[0]


@value_matcher("url", FAMILY, "text", "Every link (http/https) as written.")
def _urls(facts: Facts) -> list[str]:
    return [u.url for u in facts.message.urls]


@value_matcher("url_host", FAMILY, "domain", "The host names of the links.")
def _hosts(facts: Facts) -> list[str]:
    return facts.url_hosts


@value_matcher("url_domain", FAMILY, "domain", "The registered domains of the links.")
def _domains(facts: Facts) -> list[str]:
    return facts.url_domains


@value_matcher("url_count", FAMILY, "number", "How many distinct link hosts.", multi=False)
def _count(facts: Facts) -> list[int]:
    return [len(facts.url_hosts)]


@flag_matcher("url_ip_literal", FAMILY, "A link goes to an IP address instead of a name.")
def _ip_literal(facts: Facts) -> str | None:
    return next((h for h in facts.url_hosts if is_ip_literal(h)), None)


@flag_matcher("url_punycode", FAMILY, "A link host is internationalised (xn-- or non-ASCII).")
def _punycode(facts: Facts) -> str | None:
    return next((h for h in facts.url_hosts if is_punycode(h)), None)


# "invoice.pdf" as a link text names a file, not a domain (.zip and .mov are both).
_FILE_SUFFIXES = frozenset((
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "zip", "rar", "7z", "exe", "txt", "csv", "jpg",
    "jpeg", "png", "gif", "htm", "html", "php", "asp", "aspx", "jsp", "mov", "mp3", "mp4", "wav", "ics",
    "eml", "msg"
))


def shown_domain(anchor: str) -> str | None:
    """The domain an anchor text displays, when the text is a link or a domain itself."""
    match = _SHOWN_URL.search(anchor)
    if not match:
        return None
    domain = match.group(1).lower()
    if not _EXPLICIT.search(anchor) and domain.rpartition(".")[2] in _FILE_SUFFIXES:
        return None
    return domain


@flag_matcher("url_anchor_mismatch", FAMILY,
              "An HTML link's text shows one domain while the link goes to another.")
def _anchor_mismatch(facts: Facts) -> str | None:
    for url in facts.message.urls:
        if not url.anchor_text:
            continue
        shown = shown_domain(url.anchor_text)
        if shown and registered_domain(shown) != registered_domain(url.host):
            return f"{shown} -> {url.host}"
    return None
