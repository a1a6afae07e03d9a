"""Stored mail, read as it lies: single files, mbox, maildir, directories and archives.

`scan`, and later `train` and `history import`, take the corpora as published (tarballs of
files, gzip'd mboxes) so no one has to unpack anything first. Each message comes with a source
name that says where it was found: ``file``, ``archive:member`` or ``mbox#index``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")
# "From sender  Thu Aug 22 13:17:22 2002": a body line that merely starts with "From " in an
# unquoted (mboxo) file does not look like this, so it does not split a message in two.
_FROM_LINE = re.compile(rb"^From \S*\s+[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{1,2}:\d\d")


@dataclass(frozen=True)
class StoredMessage:
    source: str
    raw: bytes


class SourceError(Exception):
    """A path that cannot be read at all (missing, unreadable)."""


def looks_like_message(data: bytes) -> bool:
    """Whether a file inside a folder or archive is mail (skips notes like the corpus `cmds`)."""
    start = data[:4096]
    if start.startswith(b"From "):
        start = start.split(b"\n", 1)[1] if b"\n" in start else b""
    return bool(_HEADER_LINE.match(start))


def _decompress(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.decompress(data)
    return data


def split_mbox(data: bytes, source: str) -> Iterator[StoredMessage]:
    """Split an mbox on ``From `` lines that follow a blank line; undo ``>From`` quoting."""
    lines = data.splitlines(keepends=True)
    current: list[bytes] = []
    index = 0
    previous_blank = True
    for line in lines:
        if previous_blank and line.startswith(b"From ") and _FROM_LINE.match(line):
            if current:
                yield StoredMessage(f"{source}#{index}", _unquote(current))
                index += 1
            current = []
        else:
            current.append(line)
        previous_blank = line in (b"\n", b"\r\n")
    if current:
        yield StoredMessage(f"{source}#{index}", _unquote(current))


def _unquote(lines: list[bytes]) -> bytes:
    out = []
    for line in lines:
        stripped = line.lstrip(b">")
        if stripped.startswith(b"From ") and line.startswith(b">"):
            line = line[1:]
        out.append(line)
    # The blank line before the next separator belongs to the mbox format, not the message.
    if out and out[-1] in (b"\n", b"\r\n"):
        out.pop()
    return b"".join(out)


def _from_bytes(data: bytes, source: str, explicit: bool) -> Iterator[StoredMessage]:
    try:
        data = _decompress(data)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise SourceError(f"{source}: cannot decompress: {exc}") from None
    if data[257:262] == b"ustar":
        yield from _from_tar(io.BytesIO(data), source)
        return
    if _FROM_LINE.match(data):
        messages = split_mbox(data, source)
        first = next(messages, None)
        second = next(messages, None)
        if first is not None and second is None:  # one message with a From_ line
            if explicit or looks_like_message(first.raw):
                yield StoredMessage(source, first.raw)
            return
        for message in (first, second):
            if message is not None:
                yield message
        yield from messages
        return
    if explicit or looks_like_message(data):
        yield StoredMessage(source, data)


def _from_tar(fileobj: BinaryIO, source: str) -> Iterator[StoredMessage]:
    try:
        with tarfile.open(fileobj=fileobj, mode="r:*") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                data = handle.read()
                yield from _from_bytes(data, f"{source}:{member.name}", explicit=False)
    except tarfile.TarError as exc:
        raise SourceError(f"{source}: broken archive: {exc}") from None


def _is_maildir(path: Path) -> bool:
    return all((path / sub).is_dir() for sub in ("cur", "new"))


def _from_dir(path: Path) -> Iterator[StoredMessage]:
    if _is_maildir(path):
        for sub in ("cur", "new"):
            for entry in sorted((path / sub).iterdir()):
                if entry.is_file():
                    yield StoredMessage(str(entry), entry.read_bytes())
        return
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            entry = Path(root) / name
            yield from _from_bytes(entry.read_bytes(), str(entry), explicit=False)


def read_messages(paths: list[str]) -> Iterator[StoredMessage]:
    """Every message under the given paths, in a stable order; ``-`` reads standard input."""
    for spec in paths:
        if spec == "-":
            yield StoredMessage("-", sys.stdin.buffer.read())
            continue
        path = Path(spec)
        if path.is_dir():
            yield from _from_dir(path)
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SourceError(f"{spec}: {exc.strerror or exc}") from None
        yield from _from_bytes(data, spec, explicit=True)
