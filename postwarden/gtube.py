"""The GTUBE test strings: a message an administrator sends to prove the filter acts.

The standard string (the one SpamAssassin and rspamd know) is rejected. Like rspamd, which has
variants per action, postwarden accepts variants that name the action to take, so every path
of an installation (hold queue, deferral, silent discard) can be tried with one test message:

    XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X        -> reject
    XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-QUARANTINE*C.34X   -> quarantine
    XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-TEMPFAIL*C.34X     -> tempfail
    XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-DISCARD*C.34X      -> discard
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from postwarden.context import Hit, ScanContext
from postwarden.verdict import Action

_PREFIX = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-"
_PATTERN = re.compile(re.escape(_PREFIX) + r"(EMAIL|QUARANTINE|TEMPFAIL|DISCARD)\*C\.34X")
_ACTIONS = {
    "EMAIL": Action.REJECT,
    "QUARANTINE": Action.QUARANTINE,
    "TEMPFAIL": Action.TEMPFAIL,
    "DISCARD": Action.DISCARD,
}
_PAST = {Action.REJECT: "rejected", Action.QUARANTINE: "held", Action.TEMPFAIL: "deferred",
         Action.DISCARD: "discarded"}
GTUBE = _PREFIX + "EMAIL*C.34X"


def gtube_string(action: Action) -> str:
    """The test string that makes postwarden take ``action``."""
    for word, mapped in _ACTIONS.items():
        if mapped is action:
            return f"{_PREFIX}{word}*C.34X"
    raise ValueError(f"no GTUBE variant for {action}")


class GtubeCheck:
    name = "gtube"

    def evaluate(self, ctx: ScanContext) -> Iterator[Hit]:
        # Search the decoded text (base64 or QP bodies) and the raw body (odd MIME).
        for haystack in (ctx.message.text, bytes(ctx.txn.body).decode("latin-1")):
            match = _PATTERN.search(haystack)
            if match:
                action = _ACTIONS[match.group(1)]
                yield Hit(
                    id="GTUBE" if action is Action.REJECT else f"GTUBE_{match.group(1)}",
                    score=1000.0 if action is Action.REJECT else 0.0,
                    action=action,
                    reply=f"GTUBE test message: {_PAST[action]} as the test asks",
                    detail="GTUBE test string in the body",
                )
                return
