"""What an attachment really is: its type sniffed from magic bytes, and what archives hold.

A declared Content-Type and a file name are chosen by the sender; the first bytes are not.
Only the types a mail filter decides on are recognised, so a small table beats a libmagic
dependency that every install would have to carry.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from postwarden import listfile

_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"MZ", "application/x-dosexec"),
    (0, b"\x7fELF", "application/x-executable"),
    (0, b"\xca\xfe\xba\xbe", "application/x-mach-binary"),
    (0, b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"PK\x05\x06", "application/zip"),
    (0, b"Rar!\x1a\x07", "application/vnd.rar"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"BZh", "application/x-bzip2"),
    (0, b"\xfd7zXZ\x00", "application/x-xz"),
    (0, b"MSCF", "application/vnd.ms-cab-compressed"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"{\\rtf", "application/rtf"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BEGIN:VCALENDAR", "text/calendar"),
    (0, b"#!", "text/x-shellscript"),
    (257, b"ustar", "application/x-tar"),
    (0x8001, b"CD001", "application/x-iso9660-image"),
]

_LISTS = Path(__file__).resolve().parent / "data" / "rules" / "lists"
PROGRAM_TYPES = frozenset({"application/x-dosexec", "application/x-executable",
                           "application/x-mach-binary", "text/x-shellscript"})


def _extensions(name: str) -> frozenset[str]:
    text = (_LISTS / name).read_text(encoding="utf-8")
    found = (listfile.extension(entry) for _, entry in listfile.entries(text))
    return frozenset(ext for ext in found if ext)


# The default rule pack's lists, so the rules and the text model call the same files programs.
PROGRAM_EXTENSIONS = _extensions("executable-extensions.txt")
CONTAINER_EXTENSIONS = _extensions("risky-extensions.txt")
PAGE_EXTENSIONS = _extensions("page-extensions.txt")


def name_parts(filename: str) -> list[str]:
    """``"invoice.pdf   .exe"`` -> ``["invoice", "pdf", "exe"]`` (padding is a trick too)."""
    return [p.strip().lower() for p in filename.replace("\\", "/").rpartition("/")[2].split(".")]


def extension(filename: str) -> str | None:
    """The last extension of a file name, lower-cased, without the dot: what the rules'
    extension matchers and ``risk_class`` are given."""
    parts = name_parts(filename)
    return parts[-1] if len(parts) > 1 and parts[-1] else None


def risk_class(ext: str, sniffed: str = "") -> str | None:
    """What an attachment is, as far as it is dangerous whatever mail it comes with: a program
    or script, a disk-image container, a web page; None for documents, images and the rest."""
    if ext in PROGRAM_EXTENSIONS or sniffed in PROGRAM_TYPES:
        return "program"
    if ext in CONTAINER_EXTENSIONS:
        return "container"
    if ext in PAGE_EXTENSIONS or sniffed == "text/html":
        return "page"
    return None


# Compressed tars are not opened: listing them means decompressing all of it (a bomb risk).
ARCHIVE_TYPES = {"application/zip", "application/x-tar"}
MAX_MEMBERS = 1000


def sniff(data: bytes) -> str:
    """The type the content shows, or ``application/octet-stream`` when unknown."""
    for offset, magic, mime in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return mime
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<script", b"<svg")):
        return "text/html"
    if head and all(b in b"\t\n\r" or 32 <= b < 127 for b in head[:256]):
        return "text/plain"
    return "application/octet-stream"


def archive_members(data: bytes, sniffed: str) -> list[str]:
    """Names of the files inside a zip or tar archive; empty when unreadable or encrypted.

    Only the directory is read, never the members, so a zip bomb costs nothing.
    """
    try:
        if sniffed == "application/zip":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return [info.filename for info in archive.infolist()[:MAX_MEMBERS]]
        if sniffed == "application/x-tar":
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
                names = []
                for member in archive:
                    names.append(member.name)
                    if len(names) >= MAX_MEMBERS:
                        break
                return names
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, ValueError, RuntimeError):
        return []
    return []
