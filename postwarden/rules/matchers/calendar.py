"""Calendar matchers: invitations (text/calendar) land in the calendar even when the mail is
junked, so their summary, description and organiser are worth rules of their own.

    - calendar_count: {min: 1}
    - calendar_summary: {regex: '(bitcoin|payout|prize)'}
    - calendar_description: {contains: 'gift card'}
    - calendar_organizer_domain: {list: lists/freemail.txt}
"""

from __future__ import annotations

from postwarden.rules.facts import Facts
from postwarden.rules.registry import value_matcher

FAMILY = "calendar"


@value_matcher("calendar_count", FAMILY, "number", "How many calendar events the message carries.",
               multi=False)
def _count(facts: Facts) -> list[int]:
    return [len(facts.message.calendar)]


@value_matcher("calendar_summary", FAMILY, "text", "The SUMMARY (title) of each event.")
def _summary(facts: Facts) -> list[str]:
    return [e.summary for e in facts.message.calendar if e.summary]


@value_matcher("calendar_description", FAMILY, "text", "The DESCRIPTION of each event.")
def _description(facts: Facts) -> list[str]:
    return [e.description for e in facts.message.calendar if e.description]


@value_matcher("calendar_location", FAMILY, "text", "The LOCATION of each event.")
def _location(facts: Facts) -> list[str]:
    return [e.location for e in facts.message.calendar if e.location]


@value_matcher("calendar_organizer", FAMILY, "address", "The ORGANIZER address of each event.")
def _organizer(facts: Facts) -> list[str]:
    return [e.organizer.lower() for e in facts.message.calendar if "@" in e.organizer]


@value_matcher("calendar_organizer_domain", FAMILY, "domain", "The domain of each event's ORGANIZER.")
def _organizer_domain(facts: Facts) -> list[str]:
    return [e.organizer.rpartition("@")[2].lower() for e in facts.message.calendar if "@" in e.organizer]
