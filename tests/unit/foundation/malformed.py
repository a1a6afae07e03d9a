"""Malformed messages the tests build themselves (none comes from a corpus)."""

from __future__ import annotations

import base64

HEAD = b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: test\r\n"


def truncated_mime() -> bytes:
    return (HEAD + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XX"\r\n\r\n'
            b"--XX\r\nContent-Type: text/plain\r\n\r\nhello there\r\n--XX\r\n"
            b"Content-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            b"JVBERi0xLjQKJeLjz9MK")


def invalid_base64() -> bytes:
    return (HEAD + b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n!!!not*base64@@@==\r\nAAA\r\n")


def invalid_quoted_printable() -> bytes:
    return (HEAD + b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\nbad =ZZ escape =\r\n=E2=82 cut\r\n")


def eight_bit_headers() -> bytes:
    return (b"From: J\xf6rg \xff\xfe <joerg@example.org>\r\nTo: bob@example.net\r\n"
            b"Subject: Gr\xfc\xdfe \xe2\x82\xac caf\xc3\xa9\r\n\r\nbody\r\n")


def nested_multipart(depth: int = 200) -> bytes:
    parts = [HEAD, b"MIME-Version: 1.0\r\n"]
    for i in range(depth):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode())
    parts.append(b"Content-Type: text/plain\r\n\r\ndeep inside\r\n")
    for i in reversed(range(depth)):
        parts.append(f"--b{i}--\r\n".encode())
    return b"".join(parts)


def empty_message() -> bytes:
    return b""


def huge_body(size: int = 50 * 1024 * 1024) -> bytes:
    line = b"All work and no play makes Jack a dull boy. " * 2 + b"\r\n"
    return HEAD + b"\r\n" + line * (size // len(line) + 1)


def huge_header_line(size: int = 1024 * 1024) -> bytes:
    return HEAD + b"X-Long: " + b"a" * size + b"\r\n\r\nbody\r\n"


def garbage_binary() -> bytes:
    return bytes(range(256)) * 64


def attachment_message(filename: str, payload: bytes, ctype: str = "application/octet-stream") -> bytes:
    encoded = base64.encodebytes(payload)
    return (HEAD + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n'
            b"--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--B\r\n"
            + f'Content-Type: {ctype}; name="{filename}"\r\n'.encode()
            + f'Content-Disposition: attachment; filename="{filename}"\r\n'.encode()
            + b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"\r\n--B--\r\n")


ALL = {
    "truncated_mime": truncated_mime,
    "invalid_base64": invalid_base64,
    "invalid_quoted_printable": invalid_quoted_printable,
    "eight_bit_headers": eight_bit_headers,
    "nested_multipart_200": nested_multipart,
    "empty": empty_message,
    "body_50mb": huge_body,
    "header_line_1mb": huge_header_line,
    "binary_garbage": garbage_binary,
}
