"""Per-rule hit counts for the metrics layer: one counter per rule id, kept across reloads.

The metrics exporter reads ``RULE_HITS.snapshot()`` (or ``RULE_HITS.get(id)``) whenever it is
scraped; counts only grow, like a Prometheus counter, and survive rule reloads because the
object is module-level rather than part of a rule set.
"""

from __future__ import annotations

import threading


class HitCounter:
    """A thread-safe map of rule id to the number of messages the rule hit."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, rule_id: str, n: int = 1) -> None:
        with self._lock:
            self._counts[rule_id] = self._counts.get(rule_id, 0) + n

    def get(self, rule_id: str) -> int:
        with self._lock:
            return self._counts.get(rule_id, 0)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


RULE_HITS = HitCounter()
