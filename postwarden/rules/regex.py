"""Regular expressions that run in linear time, whatever an operator writes.

A backtracking engine (Python's ``re``) can take exponential time on a pattern such as
``(a+)+$``; one such rule against a crafted body would hold every milter thread and stall the
MTA. RE2 (google-re2) has no backtracking: matching is linear in the input, and patterns that
need backtracking (look-around, back-references) are refused when the rule loads, with RE2's
own explanation, instead of being slow at run time.
"""

from __future__ import annotations

import threading
from typing import Any

import re2

MAX_PROGRAM_MEMORY = 8 << 20  # per pattern; RE2 refuses patterns whose automaton needs more


def compile_regex(pattern: str, case_sensitive: bool = False) -> tuple[Any | None, str]:
    """Return ``(regex, "")`` or ``(None, why)``; never raises, never logs to stderr."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = case_sensitive
    options.max_mem = MAX_PROGRAM_MEMORY
    try:
        return re2.compile(pattern, options), ""
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return None, str(detail)
    except (TypeError, ValueError) as exc:
        return None, str(exc)


SET_THRESHOLD = 16  # below this many patterns, one search each is as fast as a Set
MAX_SET_MEMORY = 256 << 20
_local = threading.local()


def begin_message() -> None:
    """Start a per-thread cache of Set results for one message (see RegexBank)."""
    _local.cache = {}


def end_message() -> None:
    _local.cache = None


class BankedRegex:
    """One rule's regex; searched through its bank's Set when there is one."""

    __slots__ = ("bank", "index", "pattern", "regex")

    def __init__(self, bank: RegexBank, index: int, regex: Any):
        self.bank = bank
        self.index = index
        self.regex = regex
        self.pattern = ""

    def search(self, text: str) -> bool:
        # The hot path of a large rule set: one dict lookup per rule, the Set pass once per text.
        cache = getattr(_local, "cache", None)
        entry = cache.get(id(text)) if cache is not None else None
        if entry is None or entry[0] is not text or entry[1] is not self.bank:
            entry = self.bank.scan(text)
        matches = entry[2]
        if matches is None:
            return self.regex.search(text) is not None
        return self.index in matches


class RegexBank:
    """All regexes of a rule set, searched in one pass per text with RE2::Set.

    A thousand rules over the same body would otherwise scan it a thousand times. The Set
    reports every pattern that matches a text at once; its answers are cached per message and
    thread, keyed by the text object (the body, a header value), so each text is scanned once.
    Index 0 is an empty pattern that matches everything: a Set that runs out of memory answers
    "nothing matched", and the missing sentinel tells that apart from a real no-match, so the
    patterns are then searched one by one instead of silently missing.
    """

    def __init__(self) -> None:
        self._entries: list[BankedRegex] = []
        self._set: Any | None = None

    def add(self, pattern: str, case_sensitive: bool) -> tuple[BankedRegex | None, str]:
        regex, error = compile_regex(pattern, case_sensitive)
        if regex is None:
            return None, error
        entry = BankedRegex(self, len(self._entries) + 1, regex)
        entry.pattern = pattern if case_sensitive else f"(?i:{pattern})"
        self._entries.append(entry)
        return entry, ""

    def __len__(self) -> int:
        return len(self._entries)

    def freeze(self) -> None:
        """Build the Set once every rule is compiled (before that, patterns search alone)."""
        if len(self._entries) < SET_THRESHOLD:
            return
        options = re2.Options()
        options.log_errors = False
        options.max_mem = MAX_SET_MEMORY
        bank = re2.Set.SearchSet(options)
        try:
            bank.Add("")
            for entry in self._entries:
                if bank.Add(entry.pattern) != entry.index:
                    return
            bank.Compile()
        except re2.error:
            return  # keep searching one by one
        self._set = bank

    def scan(self, text: str) -> tuple[str, RegexBank, frozenset[int] | None]:
        """Run the Set over ``text`` (None: search one by one) and cache it for the message."""
        result = None
        if self._set is not None:
            found = self._set.Match(text)
            result = frozenset(found) if found and found[0] == 0 else None
        entry = (text, self, result)
        cache = getattr(_local, "cache", None)
        if cache is not None:
            cache[id(text)] = entry  # the entry holds the text, so its id is not reused meanwhile
        return entry
