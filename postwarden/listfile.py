"""The lines of a list file, read one way by everything that reads the rule pack's lists.

The rule layer (``rules.lists``) and the attachment risk classes of the text models
(``filetypes``) read the same extension lists, and must agree on what a line says. This lives
apart from ``rules`` because ``filetypes`` is imported by the message parser, which the rule
layer imports in turn.
"""

from __future__ import annotations

from collections.abc import Iterator


def entries(text: str) -> Iterator[tuple[int, str]]:
    """(line number, entry) of every line that has one: ``#`` starts a comment."""
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if entry:
            yield number, entry


def extension(entry: str) -> str | None:
    """A file name extension given with or without its dot, lower-cased; None if it is not one."""
    ext = entry.lower().lstrip(".")
    if not ext or any(c in ext for c in "/\\ \t*?"):
        return None
    return ext
