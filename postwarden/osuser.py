"""Account names for messages about file and socket ownership."""

from __future__ import annotations

import pwd


def user_name(uid: int) -> str:
    """The account name of ``uid``, or the number when it has none (a container's uid)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
