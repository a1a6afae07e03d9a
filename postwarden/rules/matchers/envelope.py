"""Envelope matchers: MAIL FROM and RCPT TO as the SMTP client gave them.

    - envelope_from_domain: {list: lists/freemail.txt}
    - envelope_null_sender: true            # bounces: MAIL FROM:<>
    - rcpt: {equals: abuse@example.com}
    - rcpt_domain: {in: [example.com], mode: all}
    - rcpt_count: {min: 50}
"""

from __future__ import annotations

from postwarden.rules.facts import Facts
from postwarden.rules.registry import flag_matcher, value_matcher

FAMILY = "envelope"


@value_matcher("envelope_from", FAMILY, "address", "The envelope sender (MAIL FROM), lower-cased.",
               multi=False)
def _envelope_from(facts: Facts) -> list[str]:
    return [facts.txn.mail_from.lower()] if facts.txn.mail_from else []


@value_matcher("envelope_from_domain", FAMILY, "domain", "The domain of the envelope sender.",
               multi=False)
def _envelope_from_domain(facts: Facts) -> list[str]:
    sender = facts.txn.mail_from
    return [sender.rpartition("@")[2].lower().rstrip(".")] if "@" in sender else []


@flag_matcher("envelope_null_sender", FAMILY, "The envelope sender is empty (MAIL FROM:<>, a bounce).")
def _null_sender(facts: Facts) -> str | None:
    return "<>" if not facts.txn.mail_from else None


@value_matcher("rcpt", FAMILY, "address", "The envelope recipients (RCPT TO); mode any (default) or all.")
def _rcpts(facts: Facts) -> list[str]:
    return facts.envelope_rcpts


@value_matcher("rcpt_domain", FAMILY, "domain", "The domains of the envelope recipients; mode any or all.")
def _rcpt_domains(facts: Facts) -> list[str]:
    return [r.rpartition("@")[2].rstrip(".") for r in facts.envelope_rcpts if "@" in r]


@value_matcher("rcpt_count", FAMILY, "number", "How many envelope recipients.", multi=False)
def _rcpt_count(facts: Facts) -> list[int]:
    return [len(facts.txn.rcpts)]
