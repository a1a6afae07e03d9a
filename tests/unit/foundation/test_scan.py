"""`postwarden scan`: every kind of stored mail, one line per message, envelope options."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from postwarden.cli import main
from postwarden.gtube import GTUBE
from postwarden.sources import read_messages
from tests.unit.foundation import malformed

HAM = b"From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: lunch\n\nSee you at noon.\n"
SPAM = (b"Received: from relay.example (relay.example [203.0.113.5]) by mx.example.net\n"
        b"From: x@spam.example\nTo: bob@example.net\nSubject: test\n\n" + GTUBE.encode() + b"\n")


def mbox(*messages: bytes) -> bytes:
    out = b""
    for message in messages:
        body = message.replace(b"\nFrom ", b"\n>From ")
        out += b"From sender@example.org  Thu Aug 22 13:17:22 2002\n" + body + b"\n"
    return out


def run(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    assert main(["scan", "--json", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_file_mbox_gzip_maildir_and_tar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "one.eml").write_bytes(HAM)
    (tmp_path / "box.mbox.gz").write_bytes(gzip.compress(mbox(HAM, SPAM, HAM + b"\nFrom here on\n")))
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.host").write_bytes(SPAM)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:bz2") as tar:
        for name, data in (("corpus/00001.abc", HAM), ("corpus/cmds", b"mv a b\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (tmp_path / "corpus.tar.bz2").write_bytes(archive.getvalue())
    lines = run(capsys, str(tmp_path / "one.eml"), str(tmp_path / "box.mbox.gz"), str(maildir),
                str(tmp_path / "corpus.tar.bz2"))
    sources = [line["source"] for line in lines]
    assert sources == [
        str(tmp_path / "one.eml"),
        f"{tmp_path / 'box.mbox.gz'}#0", f"{tmp_path / 'box.mbox.gz'}#1", f"{tmp_path / 'box.mbox.gz'}#2",
        str(maildir / "new" / "1.host"),
        f"{tmp_path / 'corpus.tar.bz2'}:corpus/00001.abc",  # the cmds note is not mail: skipped
    ]
    assert [line["action"] for line in lines] == ["accept", "accept", "reject", "accept", "reject", "accept"]
    spam = lines[2]
    assert spam["smtp_code"] == "550" and spam["smtp_xcode"] == "5.7.1"
    assert spam["reasons"][0]["id"] == "GTUBE"
    ham = lines[0]
    assert ham["headers"][0][0] == "X-Postwarden-Status" and ham["headers"][0][1].startswith("ham")


def test_mbox_quoting_is_undone() -> None:
    (message,) = list(read_messages_from_bytes(mbox(HAM + b"\nFrom the desk of Alice\n")))
    assert b"\nFrom the desk of Alice" in message


def read_messages_from_bytes(data: bytes) -> list[bytes]:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".mbox") as handle:
        handle.write(data)
        handle.flush()
        return [m.raw for m in read_messages([handle.name])]


def test_envelope_from_headers_and_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "spam.eml"
    path.write_bytes(SPAM)
    (line,) = run(capsys, str(path))
    assert line["direction"] == "inbound"
    (line,) = run(capsys, "--auth-user", "alice", str(path))
    assert line["direction"] == "outbound"
    (line,) = run(capsys, "--client-ip", "127.0.0.1", "--sender", "a@b.example", "--rcpt",
                  "c@d.example", str(path))
    assert line["direction"] == "outbound"  # 127.0.0.0/8 is in the default internal_networks


def test_stdin_and_human_output() -> None:
    result = subprocess.run([sys.executable, "-m", "postwarden", "scan", "-"], input=SPAM,
                            capture_output=True, check=True)
    line = result.stdout.decode()
    assert line.startswith("-: reject (spam, score ") and " inbound) 550 5.7.1 " in line
    assert "[GTUBE=1000.00" in line
    assert "scanned 1 message(s)" in result.stderr.decode()


def test_malformed_set_is_decided(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = []
    for name, build in malformed.ALL.items():
        path = tmp_path / f"{name}.eml"
        path.write_bytes(build())
        paths.append(str(path))
    lines = run(capsys, *paths)
    assert len(lines) == len(paths)
    by_name = {Path(line["source"]).stem: line for line in lines}
    for name in ("truncated_mime", "invalid_base64", "empty", "body_50mb"):
        ids = [r["id"] for r in by_name[name]["reasons"]]
        assert "MALFORMED" in ids, name
    assert all(line["action"] == "accept" for line in lines)


def test_missing_path_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "absent.eml")]) == 1
    assert "absent.eml" in capsys.readouterr().err


def test_json_shows_what_the_models_said_hit_or_not(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """An operator asking why a message was (not) flagged sees both probabilities, and that the
    English check raised the threshold for a French message over the configured one."""
    from tests.unit.classifiers.test_language import PROSE, _message

    (tmp_path / "lunch.eml").write_bytes(HAM)
    (tmp_path / "french.eml").write_bytes(_message(PROSE["fr"]))
    config = tmp_path / "pw.yaml"
    config.write_text("models:\n  directory: /nonexistent/postwarden-models\n  spam_threshold: 0.01\n")
    lunch, french = run(capsys, "-c", str(config), str(tmp_path / "lunch.eml"), str(tmp_path / "french.eml"))
    assert set(lunch["model"]) == {"version", "spam", "phish"} and lunch["model"]["spam"] < 0.5
    assert french["model"]["language"] == "other" and french["model"]["spam"] >= 0.01
    assert not [r for r in french["reasons"] if r["kind"] == "model"]


def test_json_shows_each_authentication_result_and_whether_it_is_trusted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Why a DMARC rule stayed quiet: the header's authserv-id is not the one configured."""
    raw = (b"Authentication-Results: mx.example.net; dmarc=fail (p=reject) header.from=bank.example\n"
           b"Authentication-Results: mx2.example.net;\n\tspf=pass smtp.mailfrom=bank.example\n" + HAM)
    (tmp_path / "a.eml").write_bytes(raw)
    config = tmp_path / "pw.yaml"
    config.write_text("trusted_authserv_ids: [MX.example.net]\n")
    (scanned,) = run(capsys, "-c", str(config), str(tmp_path / "a.eml"))
    assert scanned["authentication"] == [
        {"authserv_id": "mx.example.net", "result": "dmarc=fail bank.example (p=reject)", "trusted": True},
        {"authserv_id": "mx2.example.net", "result": "spf=pass bank.example", "trusted": False},
    ]
    assert "DMARC_FAIL_POLICY_REJECT" in {r["id"] for r in scanned["reasons"]}
    (tmp_path / "b.eml").write_bytes(HAM)
    (plain,) = run(capsys, "-c", str(config), str(tmp_path / "b.eml"))
    assert "authentication" not in plain
