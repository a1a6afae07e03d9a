"""The configuration-and-engine bundle the daemon runs with, and its transactional reload.

A reload builds the whole new bundle off to the side; only when every part of it is valid is
the reference swapped. Each milter connection takes the bundle once when it starts, so a reload
never changes the rules in the middle of a message.

A bundle owns resources (the recipient history's SQLite or Redis connections). The old bundle
cannot be closed at the swap, since connections that took it may still have a message under
way; so connections lease the bundle (``acquire``/``release``) and a bundle that is no longer
current is closed when its last lease is released, or at once when nobody holds it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from postwarden.config import Config, ConfigError, load_config
from postwarden.engine import Engine
from postwarden.metrics import GENERATION, RELOADS

log = logging.getLogger("postwarden.runtime")


@dataclass(frozen=True)
class Bundle:
    config: Config
    engine: Engine
    loaded_at: float = field(default_factory=time.time)
    generation: int = 0

    def close(self) -> None:
        """Release what the checks hold (store connections); the bundle is unusable afterwards.

        A check that fails to close is logged and the others are still closed.
        """
        for check in self.engine.checks:
            close = getattr(check, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception:
                log.exception("cannot close check %s of generation %d", getattr(check, "name", check),
                              self.generation)


def build_bundle(config_path: str | Path | None, generation: int = 0) -> Bundle:
    """Everything the daemon needs from a config file; raises ConfigError when invalid."""
    config = load_config(config_path)
    return Bundle(config=config, engine=Engine(config, learn=True), generation=generation)


class Runtime:
    """Holds the current bundle; ``reload`` swaps it only when the new one is whole.

    ``current`` is for a quick look (status, config values); whoever runs messages with a bundle
    takes it with ``acquire`` and gives it back with ``release``, so a retired bundle is closed
    exactly when the last one using it is done.
    """

    def __init__(self, config_path: str | Path | None, bundle: Bundle):
        self.config_path = config_path
        self._bundle = bundle
        self._lock = threading.Lock()  # one reload at a time (building a bundle takes a while)
        self._leases_lock = threading.Lock()  # short: taken by every new connection
        self._leases: dict[int, int] = {}  # generation -> connections holding it
        self._retired: dict[int, Bundle] = {}  # replaced, still leased; closed on the last release
        self._closed = False
        self.last_reload_error = ""

    @property
    def current(self) -> Bundle:
        return self._bundle

    def acquire(self) -> Bundle:
        """The current bundle, kept open until ``release`` is called with it."""
        with self._leases_lock:
            bundle = self._bundle
            self._leases[bundle.generation] = self._leases.get(bundle.generation, 0) + 1
            return bundle

    def release(self, bundle: Bundle) -> None:
        """Give back a bundle from ``acquire``; closes it if it was the last lease on a retired one."""
        with self._leases_lock:
            left = self._leases.get(bundle.generation, 0) - 1
            if left > 0:
                self._leases[bundle.generation] = left
                return
            self._leases.pop(bundle.generation, None)
            retired = self._retired.pop(bundle.generation, None)
        if retired is not None:
            self._close(retired, "its last connection closed")

    def retired(self) -> list[int]:
        """Generations replaced by a reload but still held by a connection."""
        with self._leases_lock:
            return sorted(self._retired)

    def reload(self) -> tuple[bool, str]:
        """Try to load the config again; on failure keep the running one and say why."""
        with self._lock:
            try:
                bundle = build_bundle(self.config_path, self._bundle.generation + 1)
            except ConfigError as exc:
                self.last_reload_error = str(exc)
                RELOADS.labels("refused").inc()
                log.error("reload failed, keeping the running configuration:\n%s", exc)
                return False, str(exc)
            except Exception as exc:
                self.last_reload_error = f"{type(exc).__name__}: {exc}"
                RELOADS.labels("failed").inc()
                log.exception("reload failed, keeping the running configuration")
                return False, self.last_reload_error
            with self._leases_lock:
                old, self._bundle = self._bundle, bundle
                held = self._leases.get(old.generation, 0) > 0
                if held:
                    self._retired[old.generation] = old
            if not held:
                self._close(old, "replaced and not in use")
            self.last_reload_error = ""
            RELOADS.labels("ok").inc()
            GENERATION.set(bundle.generation)
            log.info("reloaded configuration from %s (generation %d)",
                     self.config_path or "built-in defaults", bundle.generation)
            return True, f"reloaded (generation {bundle.generation})"

    def close(self) -> None:
        """At shutdown, after the messages in flight: close the current bundle and any retired one."""
        with self._lock, self._leases_lock:
            if self._closed:
                return
            self._closed = True
            bundles = [*self._retired.values(), self._bundle]
            self._retired.clear()
        for bundle in bundles:
            self._close(bundle, "the daemon is stopping")

    @staticmethod
    def _close(bundle: Bundle, why: str) -> None:
        bundle.close()
        log.info("closed the resources of generation %d (%s)", bundle.generation, why)
