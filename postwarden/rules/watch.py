"""Reload when a rules file changes (``rules.watch: true``), by polling a fingerprint.

Deploy tools and editors replace a file atomically (write a temporary file, rename it over
the old one), which changes the file's inode; an in-place write changes its size or mtime.
Polling every ``rules.watch_interval`` seconds for (path, inode, mtime, size) of every file
under the rules directories sees both, on every filesystem, with no dependency. A change
calls the same transactional reload as `postwarden reload`: a broken file keeps the running
rules, and the next change (the fix) is picked up by the next poll.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from postwarden.runtime import Runtime

log = logging.getLogger("postwarden.rules")

Fingerprint = frozenset[tuple[str, int, int, int]]


def fingerprint(directories: list[Path]) -> Fingerprint:
    entries = set()
    for directory in directories:
        for root, _, files in os.walk(directory, followlinks=True):
            for name in files:
                path = os.path.join(root, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                entries.add((path, st.st_ino, st.st_mtime_ns, st.st_size))
    return frozenset(entries)


class RulesWatcher:
    """A daemon thread that calls ``reload`` when the files under ``directories()`` change.

    ``directories`` is asked on every poll, so a reload that changes rules.directory is
    followed.
    """

    def __init__(self, directories: Callable[[], list[Path]], reload: Callable[[], object],
                 interval: float):
        self.directories = directories
        self.reload = reload
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reloads = 0

    def start(self) -> None:
        self._last = fingerprint(self.directories())
        # In the daemon this runs in run_supervised's child, whose signal mask (libmilter's
        # signals blocked) the thread inherits.
        self._thread = threading.Thread(target=self._run, name="rules-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def poll(self) -> bool:
        """Check once; reload and return True when something changed."""
        current = fingerprint(self.directories())
        if current == self._last:
            return False
        self._last = current
        log.info("rules files changed: reloading")
        self.reloads += 1
        self.reload()
        self._last = fingerprint(self.directories())  # the reload may name other directories
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # the watcher must outlive any one bad poll
                log.exception("rules watch failed; still watching")


def watch_runtime(runtime: Runtime) -> RulesWatcher | None:
    """Start watching the rules of a Runtime when its configuration asks for it."""
    from postwarden.rules.check import rules_directories

    config = runtime.current.config
    if not (config.rules.enabled and config.rules.watch):
        return None
    watcher = RulesWatcher(lambda: rules_directories(runtime.current.config), runtime.reload,
                           config.rules.watch_interval)
    watcher.start()
    log.info("watching rules files every %.1fs", config.rules.watch_interval)
    return watcher
