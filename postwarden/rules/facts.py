"""What the matchers read of one message, each value computed at most once per message.

With a thousand rules, most of them over the same few values (the body text, the URL hosts,
the From domain), extracting a value once and not once per rule is most of the speed. A Facts
object lives for one evaluation and is never shared between messages or threads.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from postwarden.context import ScanContext
from postwarden.rules.domains import registered_domain, suffix_union

if TYPE_CHECKING:
    from postwarden.rules.dns import DnsLists

# A character class, not str.translate: translate looks up every character of a large body in
# a dict, which was most of the pack's time on big messages.
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f"
                        "\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def normalise_text(text: str) -> str:
    """Body text as the models see it: NFKC (fullwidth and styled letters fold to plain ones),
    invisible characters removed, runs of whitespace made one space.

    Spammers write ``Ｖｉａｇｒａ`` or ``V\u200biagra`` to slip past word rules; after this a rule
    for ``viagra`` sees ``Viagra``.
    """
    return " ".join(_INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).split())


class Budget:
    """The DNS time a message may still spend, shared by all of its DNS-list lookups."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


class Facts:
    def __init__(self, ctx: ScanContext, dns: DnsLists | None = None):
        self.ctx = ctx
        self.txn = ctx.txn
        self.message = ctx.message
        self.dns = dns
        self.dns_problems: list[tuple[str, str]] = []  # (reason id, detail)
        self._budget: Budget | None = None
        self._values: dict[object, list[Any]] = {}

    def suffixes_of(self, extract: Callable[[Facts], Iterable[Any]]) -> frozenset[str]:
        """The union of all suffixes of an extractor's domains, once per message."""
        key = ("suffixes", extract)
        found = self._values.get(key)
        if found is None:
            found = self._values[key] = suffix_union(list(extract(self)))  # type: ignore[assignment]
        return found  # type: ignore[return-value]

    def values(self, extract: Callable[[Facts], Iterable[Any]]) -> list[Any]:
        """What a matcher's extractor returns for this message, computed once for all rules."""
        found = self._values.get(extract)
        if found is None:
            found = self._values[extract] = list(extract(self))
        return found

    def memo(self, key: object, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per message for every rule that asks under ``key``: for values
        that depend on a setting as well as on the message (the trusted authserv-ids). ``values``
        does the same for an extractor without building a closure, once per rule and message."""
        found = self._values.get(key)
        if found is None:
            found = self._values[key] = compute()
        return found

    def budget(self, seconds: float) -> Budget:
        """The message's DNS budget, started by its first lookup."""
        if self._budget is None:
            self._budget = Budget(seconds)
        return self._budget

    @cached_property
    def _headers(self) -> dict[str, list[str]]:
        by_name: dict[str, list[str]] = {}
        for name, value in self.message.headers:
            by_name.setdefault(name.lower(), []).append(value)
        return by_name

    def header(self, name: str) -> list[str]:
        """Every decoded value of a header, in order (one index per message, not per rule)."""
        return self._headers.get(name.lower(), [])

    @cached_property
    def body_text(self) -> str:
        return normalise_text(self.message.text)

    @cached_property
    def body_as_models_see_it(self) -> str:
        from postwarden.classifiers.normalize import normalise

        return normalise(self.message.text).text

    @cached_property
    def raw_body(self) -> str:
        return bytes(self.txn.body).decode("latin-1")

    @cached_property
    def size(self) -> int:
        """Bytes of the whole message as received (headers plus the full body, kept or not)."""
        head = sum(len(name) + len(value) + 4 for name, value in self.txn.headers)
        return head + 2 + max(self.txn.body_size, len(self.txn.body))

    @cached_property
    def url_hosts(self) -> list[str]:
        return list(dict.fromkeys(url.host for url in self.message.urls))

    @cached_property
    def url_domains(self) -> list[str]:
        return list(dict.fromkeys(registered_domain(host) for host in self.url_hosts))

    @cached_property
    def envelope_rcpts(self) -> list[str]:
        return [r.lower() for r in self.txn.rcpts]
