"""The configuration-and-engine bundle the daemon runs with, and its transactional reload.

A reload builds the whole new bundle off to the side; only when every part of it is valid is
the reference swapped. Each milter connection takes the bundle once when it starts, so a reload
never changes the rules in the middle of a message.
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


def build_bundle(config_path: str | Path | None, generation: int = 0) -> Bundle:
    """Everything the daemon needs from a config file; raises ConfigError when invalid."""
    config = load_config(config_path)
    return Bundle(config=config, engine=Engine(config, learn=True), generation=generation)


class Runtime:
    """Holds the current bundle; ``reload`` swaps it only when the new one is whole."""

    def __init__(self, config_path: str | Path | None, bundle: Bundle):
        self.config_path = config_path
        self._bundle = bundle
        self._lock = threading.Lock()
        self.last_reload_error = ""

    @property
    def current(self) -> Bundle:
        return self._bundle

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
            self._bundle = bundle
            self.last_reload_error = ""
            RELOADS.labels("ok").inc()
            GENERATION.set(bundle.generation)
            log.info("reloaded configuration from %s (generation %d)",
                     self.config_path or "built-in defaults", bundle.generation)
            return True, f"reloaded (generation {bundle.generation})"
