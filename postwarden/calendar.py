"""Calendar invitations (text/calendar): the fields invite spam and phishing live in.

Spam that arrives as a meeting invitation lands in the calendar even when the mail goes to the
junk folder, so its summary, description and organiser are scanned like a body. iCalendar is
simple enough (RFC 5545 content lines, folding, escapes) that a small reader is safer than a
dependency: it never raises on broken input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_EVENTS = 50


@dataclass
class CalendarEvent:
    method: str = ""
    summary: str = ""
    description: str = ""
    location: str = ""
    organizer: str = ""
    attendees: list[str] = field(default_factory=list)


def _unescape(value: str) -> str:
    out = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _address(value: str) -> str:
    return value[7:] if value.lower().startswith("mailto:") else value


def parse_calendar(text: str) -> list[CalendarEvent]:
    """Events of a VCALENDAR text; broken lines are skipped, never fatal."""
    unfolded: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += line[1:]
        else:
            unfolded.append(line)
    method = ""
    events: list[CalendarEvent] = []
    current: CalendarEvent | None = None
    for line in unfolded:
        name_part, sep, value = line.partition(":")
        if not sep:
            continue
        name = name_part.split(";", 1)[0].strip().upper()
        if name == "METHOD":
            method = value.strip().upper()
        elif name == "BEGIN" and value.strip().upper() == "VEVENT":
            if len(events) >= MAX_EVENTS:
                break
            current = CalendarEvent(method=method)
            events.append(current)
        elif name == "END" and value.strip().upper() == "VEVENT":
            current = None
        elif current is not None:
            if name == "SUMMARY":
                current.summary = _unescape(value)
            elif name == "DESCRIPTION":
                current.description = _unescape(value)
            elif name == "LOCATION":
                current.location = _unescape(value)
            elif name == "ORGANIZER":
                current.organizer = _address(value.strip())
            elif name == "ATTENDEE":
                current.attendees.append(_address(value.strip()))
    return events
