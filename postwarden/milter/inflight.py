"""Count messages between MAIL FROM and their verdict, so SIGTERM can let them finish."""

from __future__ import annotations

import threading
import time


class InFlight:
    def __init__(self) -> None:
        self._count = 0
        self._cond = threading.Condition()
        # Set when the daemon is stopping: messages that start now are deferred (451 4.3.2),
        # so the ones already under way can finish and the count can reach zero.
        self.draining = False

    def enter(self) -> None:
        with self._cond:
            self._count += 1

    def leave(self) -> None:
        with self._cond:
            self._count = max(0, self._count - 1)
            if self._count == 0:
                self._cond.notify_all()

    @property
    def count(self) -> int:
        return self._count

    def wait_idle(self, timeout: float) -> bool:
        """True when nothing is in flight any more, False when the timeout ran out first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True
