"""Authentication-Results headers (RFC 8601): what an earlier filter found of SPF, DKIM, DMARC.

postwarden does not verify SPF, DKIM or DMARC itself: OpenDKIM, OpenDMARC, an SPF policy
daemon or the border MX already do, and write what they found into an Authentication-Results
header that the milters after them see. Anyone can write that header too, so a result counts
only when its authserv-id (the first word, naming the host or service that checked) is one the
operator listed in ``trusted_authserv_ids``, as OpenDMARC's ``TrustedAuthservIDs`` does.

The parser is lenient in what it reads and never raises: a header it cannot make sense of
yields no results, so a malformed or hostile header costs nothing but its own evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# The result keywords of RFC 8601's registry (and of the methods it lists), plus the older
# "hardfail" some SPF checkers still write.
RESULTS = frozenset({"none", "pass", "fail", "softfail", "neutral", "policy", "temperror", "permerror",
                     "hardfail"})
POLICIES = ("none", "quarantine", "reject")

# Which property names the domain a result is about, by method, in order of preference.
_DOMAIN_PROPERTIES = {
    "dmarc": ("header.from",),
    "dkim": ("header.d", "header.i"),
    "spf": ("smtp.mailfrom", "smtp.helo"),
}
_ANY_DOMAIN_PROPERTIES = ("header.from", "header.d", "header.i", "smtp.mailfrom", "smtp.helo")
_KEYWORD = re.compile(r"[a-z0-9][a-z0-9_-]*")
# Real headers are a few hundred bytes (a kilobyte or two with many results); the parser walks
# characters in Python, so a sender's 100 KB header is read only this far.
MAX_CHARS = 16_384
_COMMENT = re.compile(r"\([^()]*\)")
_POLICY_IN_COMMENT = re.compile(r"(?i)\bp=(none|quarantine|reject)\b")
_ACTIONS = {"reject": "reject", "oreject": "reject", "quarantine": "quarantine",
            "oquarantine": "quarantine", "none": "none", "onone": "none"}  # Microsoft's "action="


@dataclass(frozen=True)
class AuthResult:
    """One method's outcome: ``dmarc=fail (p=reject) header.from=example.com``."""

    authserv_id: str
    method: str  # lower case, without a method version ("dkim/1" is "dkim")
    result: str  # lower case
    properties: dict[str, str] = field(default_factory=dict)  # "header.d" -> value, lower-case keys
    comments: tuple[str, ...] = ()

    @property
    def domain(self) -> str:
        """The domain the result is about (header.from for DMARC, d= for DKIM, the envelope
        sender's domain for SPF), lower case, or "" when the header does not say."""
        for name in _DOMAIN_PROPERTIES.get(self.method, _ANY_DOMAIN_PROPERTIES):
            value = self.properties.get(name, "")
            if value:
                return value.rpartition("@")[2].strip().lower().rstrip(".")
        return ""

    @property
    def policy(self) -> str:
        """The DMARC policy the result was judged under (none, quarantine or reject), or "":
        from a ``policy.dmarc`` property (rspamd), a ``p=`` comment (OpenDMARC, Gmail) or an
        ``action=`` (Microsoft)."""
        value = self.properties.get("policy.dmarc", "").lower()
        if value in POLICIES:
            return value
        for comment in self.comments:
            found = _POLICY_IN_COMMENT.search(comment)
            if found:
                return found.group(1).lower()
        return _ACTIONS.get(self.properties.get("action", "").lower(), "")

    def describe(self) -> str:
        domain = f" {self.domain}" if self.domain else ""
        policy = f" (p={self.policy})" if self.method == "dmarc" and self.policy else ""
        return f"{self.method}={self.result}{domain}{policy}"


def _segments(value: str) -> list[tuple[str, list[str]]]:
    """The header split at semicolons outside comments and quotes: each part's text without
    its comments, and the comments. Unbalanced parentheses or quotes end at the value's end."""
    out: list[tuple[str, list[str]]] = []
    text: list[str] = []
    comments: list[str] = []
    comment: list[str] = []
    depth, quoted, escaped = 0, False, False
    for ch in value:
        if escaped:
            (comment if depth else text).append(ch)
            escaped = False
        elif ch == "\\" and (quoted or depth):
            escaped = True
            if not depth:
                text.append(ch)
        elif depth:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    comments.append("".join(comment).strip())
                    comment = []
                    text.append(" ")
                    continue
            comment.append(ch)
        elif ch == '"':
            quoted = not quoted
            text.append(ch)
        elif quoted:
            text.append(ch)
        elif ch == "(":
            depth = 1
        elif ch == ";":
            out.append(("".join(text), comments))
            text, comments = [], []
        else:
            text.append(ch)
    if comment:
        comments.append("".join(comment).strip())
    out.append(("".join(text), comments))
    return out


# "a = b", "header . d=x", "dkim / 1 = pass": the spaces RFC 8601 allows around the separators
_SPACED = re.compile(r'\s*([=./])\s*(?=(?:[^"]*"[^"]*")*[^"]*$)')
_ITEM = re.compile(r'(?:[^\s"]|"(?:[^"\\]|\\.)*")+')


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _normal_id(word: str) -> str:
    """An authserv-id as every comparison sees it: unquoted, lower case, no trailing dot."""
    return _unquote(word).lower().rstrip(".")


def parse(value: str) -> list[AuthResult]:
    """Every result of one Authentication-Results header value; [] for ``none`` or nonsense."""
    segments = _segments(value[:MAX_CHARS])
    head = segments[0][0].split()
    if not head:
        return []
    authserv_id = _normal_id(head[0])
    results: list[AuthResult] = []
    for text, comments in segments[1:]:
        items = _ITEM.findall(_SPACED.sub(r"\1", text.strip()))
        if not items:
            continue
        method, eq, result = items[0].partition("=")
        method = method.split("/", 1)[0].lower()
        result = result.lower()
        if not eq or not _KEYWORD.fullmatch(method) or not _KEYWORD.fullmatch(result):
            continue  # "none", or not a method=result at all
        properties: dict[str, str] = {}
        for item in items[1:]:
            name, eq, prop = item.partition("=")
            if eq and name:
                properties.setdefault(name.lower(), _unquote(prop))
        results.append(AuthResult(authserv_id, method, result, properties, tuple(comments)))
    return results


def authserv_ids(configured: Iterable[str]) -> frozenset[str]:
    """The configured ids as ``trusted_results`` compares them (lower case, no trailing dot)."""
    return frozenset(_normal_id(i) for i in configured)


def trusted_results(values: Iterable[str], trusted_ids: frozenset[str]) -> list[AuthResult]:
    """The results of the headers whose authserv-id is trusted (compared case-insensitively,
    ``trusted_ids`` lower case), in header order. Nothing is trusted when the set is empty."""
    out: list[AuthResult] = []
    for value in values:
        if _first_word(value) in trusted_ids:  # only the trusted ones are worth parsing
            out += [r for r in parse(value) if r.authserv_id in trusted_ids]
    return out


def _first_word(value: str) -> str:
    """The authserv-id as ``parse`` reads it, found cheaply: the first word before the first ";",
    comments dropped. A header that opens with a comment holding a ";" is missed (and so not
    trusted): no checker writes one."""
    head = _COMMENT.sub(" ", value[:MAX_CHARS].partition(";")[0]).split()
    return _normal_id(head[0]) if head else ""
