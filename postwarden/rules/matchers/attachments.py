"""Attachment matchers: names, extensions, declared and sniffed types, sizes, archive contents.

The sniffed type comes from the content's first bytes (``postwarden.filetypes``), so an
``invoice.pdf`` that is a Windows program shows as ``application/x-dosexec`` whatever its name
and Content-Type say. Archive members are listed for zip and plain tar (never decompressed).

    - attachment_extension: {list: lists/dangerous-extensions.txt}
    - attachment_double_extension: {list: lists/dangerous-extensions.txt}   # invoice.pdf.exe
    - attachment_name: {regex: '^scan_\\d+\\.'}
    - attachment_sniffed_type: {in: [application/x-dosexec]}
    - attachment_declared_type: {regex: '^application/(x-)?ms'}
    - attachment_type_mismatch: true
    - attachment_size: {min: 5000000}
    - attachment_count: {min: 10}
    - archive_member_extension: {list: lists/dangerous-extensions.txt}
    - archive_member_name: {regex: '\\.(exe|scr)$'}
"""

from __future__ import annotations

import re

from postwarden.filetypes import extension, name_parts
from postwarden.rules.facts import Facts
from postwarden.rules.registry import flag_matcher, value_matcher

FAMILY = "attachments"
_INNER_EXTENSION = re.compile(r"^[A-Za-z0-9]{2,5}$")

EXECUTABLE_TYPES = frozenset({"application/x-dosexec", "application/x-executable",
                              "application/x-mach-binary", "text/x-shellscript"})
_GENERIC_DECLARED = frozenset({"application/octet-stream", "application/unknown", "binary/octet-stream",
                               "application/force-download", "application/x-download", ""})
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "application/x-zip-compressed": "application/zip",
    "application/x-zip": "application/zip",
    "application/x-msdownload": "application/x-dosexec",
    "application/x-msdos-program": "application/x-dosexec",
    "application/x-exe": "application/x-dosexec",
    "application/exe": "application/x-dosexec",
    "application/x-ms-dos-executable": "application/x-dosexec",
    "application/x-pdf": "application/pdf",
    "application/msword": "application/x-ole-storage",
    "application/vnd.ms-excel": "application/x-ole-storage",
    "application/vnd.ms-powerpoint": "application/x-ole-storage",
    "application/vnd.ms-outlook": "application/x-ole-storage",
    "application/x-msi": "application/x-ole-storage",
    "application/x-rar-compressed": "application/vnd.rar",
    "application/x-rar": "application/vnd.rar",
    "application/x-gzip": "application/gzip",
    "application/x-compressed-tar": "application/gzip",
    "text/rtf": "application/rtf",
    "application/x-sh": "text/x-shellscript",
    "image/x-png": "image/png",
}
# Containers in zip clothing: an OOXML document, a jar or an epub sniffs as a zip.
_ZIP_BASED = re.compile(r"^application/(vnd\.openxmlformats-|vnd\.oasis\.opendocument\.|java-archive|"
                        r"epub\+zip|vnd\.ms-[a-z]+\.[a-z.]*macroenabled|vnd\.android\.package)")
_SNIFFABLE = frozenset({"application/pdf", "application/zip", "application/vnd.rar", "application/gzip",
                        "application/x-7z-compressed", "application/x-ole-storage", "application/rtf",
                        "image/png", "image/jpeg", "image/gif", *EXECUTABLE_TYPES})


def canonical_type(declared: str) -> str:
    declared = declared.lower().strip()
    if _ZIP_BASED.match(declared):
        return "application/zip"
    return _ALIASES.get(declared, declared)


def type_mismatch(declared: str, sniffed: str) -> bool:
    """Whether the content is plainly not what the sender declared.

    Only types the sniffer knows are judged: a declared ``audio/mpeg`` proves nothing either
    way. Executable content is a mismatch under any declared type but an executable one.
    """
    declared = canonical_type(declared)
    if sniffed == "application/octet-stream":
        return False
    if sniffed in EXECUTABLE_TYPES:
        return declared not in EXECUTABLE_TYPES
    if declared in _GENERIC_DECLARED:
        return False
    if sniffed in ("text/plain", "text/html"):
        return declared in _SNIFFABLE or declared.startswith("image/")
    if declared.startswith("text/"):
        return sniffed in _SNIFFABLE
    return declared in _SNIFFABLE and declared != sniffed


def double_extension(filename: str) -> str | None:
    """The final extension of a name that shows another one before it (``a.pdf.exe``)."""
    parts = name_parts(filename)
    if len(parts) >= 3 and parts[-1] and _INNER_EXTENSION.match(parts[-2]) and parts[0]:
        return parts[-1]
    return None


@value_matcher("attachment_name", FAMILY, "text", "The file names of the attachments.")
def _names(facts: Facts) -> list[str]:
    return [a.filename for a in facts.message.attachments if a.filename]


@value_matcher("attachment_extension", FAMILY, "extension",
               "The last extension of each attachment name, lower-cased, without the dot.")
def _extensions(facts: Facts) -> list[str]:
    return [e for a in facts.message.attachments if (e := extension(a.filename))]


@value_matcher("attachment_double_extension", FAMILY, "extension",
               "The final extension of names that show another extension first (a.pdf.exe -> exe).")
def _double(facts: Facts) -> list[str]:
    return [e for a in facts.message.attachments if (e := double_extension(a.filename))]


@value_matcher("attachment_declared_type", FAMILY, "text", "The Content-Type the sender declared.")
def _declared(facts: Facts) -> list[str]:
    return [a.declared_type for a in facts.message.attachments]


@value_matcher("attachment_sniffed_type", FAMILY, "text", "The type the content's bytes show.")
def _sniffed(facts: Facts) -> list[str]:
    return [a.sniffed_type for a in facts.message.attachments]


@flag_matcher("attachment_type_mismatch", FAMILY,
              "An attachment's content is not what its Content-Type declares (e.g. a program "
              "declared as image/jpeg).")
def _mismatch(facts: Facts) -> str | None:
    for a in facts.message.attachments:
        if type_mismatch(a.declared_type, a.sniffed_type):
            return f"{a.filename or '(unnamed)'}: {a.declared_type} is {a.sniffed_type}"
    return None


@value_matcher("attachment_size", FAMILY, "number", "The decoded size of each attachment in bytes.")
def _sizes(facts: Facts) -> list[int]:
    return [a.size for a in facts.message.attachments]


@value_matcher("attachment_count", FAMILY, "number", "How many attachments.", multi=False)
def _count(facts: Facts) -> list[int]:
    return [len(facts.message.attachments)]


@value_matcher("archive_member_name", FAMILY, "text", "The names of files inside zip and tar attachments.")
def _member_names(facts: Facts) -> list[str]:
    return [m for a in facts.message.attachments for m in a.archive_members]


@value_matcher("archive_member_extension", FAMILY, "extension",
               "The extensions of files inside zip and tar attachments.")
def _member_extensions(facts: Facts) -> list[str]:
    return [e for a in facts.message.attachments for m in a.archive_members if (e := extension(m))]
