"""Model versions on disk: the trusted model directory, the shipped default, and the pointer.

Layout of the configured ``models.directory`` (created by ``postwarden learn`` or by hand)::

    <directory>/<version>.joblib    one file per version (``learn`` never overwrites one)
    <directory>/CURRENT             the version ``postwarden model use`` chose, one line
    <directory>/feedback.joblib     hashed features of the mail given to ``learn`` (no text)

``models.version: current`` follows CURRENT (the shipped default when there is none yet),
``default`` is always the shipped model, anything else names a version in the directory.
The daemon reads the pointer when it builds its engine, so ``postwarden model use V`` followed
by ``postwarden reload`` switches versions, and a broken or missing version makes the reload
fail and keeps the running model. One exception: when CURRENT names a version an older
postwarden made (its featuriser or file format is not this one's), ``current`` falls back to
the shipped default with a warning, so upgrading the package never stops the filter; a version
named in the configuration itself is still refused.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from postwarden.classifiers.model_file import (
    SHIPPED_DIR,
    ModelError,
    OutdatedModel,
    TextModel,
    load_model,
)

DEFAULT_VERSION = "default"
CURRENT_VERSION = "current"
SHIPPED_FILE = SHIPPED_DIR / "default.joblib"
POINTER = "CURRENT"
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_version_name(value: str) -> str | None:
    if value in (DEFAULT_VERSION, CURRENT_VERSION) or _VERSION.fullmatch(value):
        return None
    return f"expected 'current', 'default' or a version name ([A-Za-z0-9._-], up to 64), got {value!r}"


@dataclass(frozen=True)
class VersionInfo:
    version: str
    path: Path
    current: bool


class ModelStore:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.fallback: str | None = None  # why the last load gave the shipped model instead

    @property
    def trusted(self) -> list[Path]:
        return [self.directory, SHIPPED_DIR]

    def path_of(self, version: str) -> Path:
        if version == DEFAULT_VERSION:
            return SHIPPED_FILE
        problem = check_version_name(version)
        if problem or version == CURRENT_VERSION:
            raise ModelError(problem or "'current' is not a version")
        return self.directory / f"{version}.joblib"

    def current_version(self) -> str:
        try:
            text = (self.directory / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return DEFAULT_VERSION
        except OSError as exc:
            raise ModelError(f"{self.directory / POINTER}: cannot read: {exc}") from None
        if check_version_name(text) or text == CURRENT_VERSION:
            raise ModelError(f"{self.directory / POINTER}: not a version name: {text[:80]!r}")
        return text

    def resolve(self, version: str) -> tuple[str, Path]:
        """The version name and file a configured ``models.version`` stands for."""
        name = self.current_version() if version == CURRENT_VERSION else version
        return name, self.path_of(name)

    def load(self, version: str) -> TextModel:
        """The model ``version`` stands for; see the module docstring for ``current``."""
        name, path = self.resolve(version)
        self.fallback = None
        try:
            return cached_load(path, self.trusted)
        except OutdatedModel as exc:
            if version != CURRENT_VERSION or name == DEFAULT_VERSION:
                raise
            self.fallback = (f"{exc}; {self.directory / POINTER} names {name}, so the shipped "
                             "default model is used until `postwarden learn` or `postwarden model "
                             "use` makes a version this postwarden can read current")
        return cached_load(SHIPPED_FILE, self.trusted)

    def problem_of(self, path: Path) -> str | None:
        """Why a version's file cannot be used, for ``postwarden model list``; None if it can."""
        try:
            cached_load(path, self.trusted)
        except ModelError as exc:
            return str(exc).removeprefix(f"{path}: ")
        return None

    def versions(self) -> list[VersionInfo]:
        current = self.current_version()
        out = [VersionInfo(DEFAULT_VERSION, SHIPPED_FILE, current == DEFAULT_VERSION)]
        if self.directory.is_dir():
            for path in sorted(self.directory.glob("*.joblib")):
                if path.stem == "feedback" or check_version_name(path.stem):
                    continue
                out.append(VersionInfo(path.stem, path, path.stem == current))
        return out

    def use(self, version: str) -> TextModel:
        """Point CURRENT at a version after checking that it loads."""
        model = cached_load(self.path_of(version), self.trusted)
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{POINTER}.tmp"
        tmp.write_text(version + "\n", encoding="utf-8")
        os.replace(tmp, self.directory / POINTER)
        return model

    def add(self, model: TextModel) -> Path:
        """Write a new version; refuses to overwrite an existing one."""
        path = self.path_of(model.version)
        if path.exists():
            raise ModelError(f"{path}: version {model.version} exists already")
        self.directory.mkdir(parents=True, exist_ok=True)
        return model.save(path)


_CACHE: dict[tuple[str, int, int], TextModel] = {}
_CACHE_LOCK = threading.Lock()


def cached_load(path: Path, trusted: list[Path]) -> TextModel:
    """Load a model once per (file, mtime, size): engines built again on reload share it."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ModelError(f"{path}: no such model file") from None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _CACHE_LOCK:
        model = _CACHE.get(key)
    if model is None:
        model = load_model(path, trusted)
        with _CACHE_LOCK:
            if len(_CACHE) > 4:
                _CACHE.clear()
            _CACHE[key] = model
    return model
