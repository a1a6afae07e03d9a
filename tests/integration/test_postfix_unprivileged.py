"""postwarden needs no root: run as an unprivileged user with the postfix group, as the systemd
unit runs it, it still decides mail inside a real Postfix.

The user is ``nobody`` (present on every Debian system), so the tests create no account.
"""

from __future__ import annotations

import grp
import pwd
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from postfix_harness import make_message, status_of
from postfix_instance import HarnessError, Stack, daemon_config

from postwarden.gtube import GTUBE
from postwarden.stores.sqlite import SqliteStore

pytestmark = pytest.mark.postfix

USER = "nobody"


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[2])  # the effective uid
    raise AssertionError(f"no Uid line for {pid}")


@pytest.fixture
def unprivileged_stack(postfix_available: None) -> Iterator[Stack]:
    stack = Stack(family="unix", daemon_user=USER).start()
    yield stack
    stack.close()


def test_unprivileged_daemon_decides_mail_through_postfix(unprivileged_stack: Stack) -> None:
    stack = unprivileged_stack
    assert stack.daemon.proc is not None
    assert _uid_of(stack.daemon.proc.pid) == pwd.getpwnam(USER).pw_uid

    sock = Path(stack.milter_spec.removeprefix("unix:"))
    info = sock.stat()
    assert stat.S_ISSOCK(info.st_mode)
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (pwd.getpwnam(USER).pw_uid, 0o660)
    assert grp.getgrgid(info.st_gid).gr_name == "postfix"

    rejected = stack.send(make_message(f"Test:\n{GTUBE}\n", subject="GTUBE")[1])
    assert rejected.code == 550 and "GTUBE" in rejected.text

    message_id, raw = make_message("Hello Bob,\n\nthe minutes are below.\n", subject="Minutes")
    assert stack.send(raw).accepted
    assert status_of(stack.postfix.wait_delivered(message_id))[1] == "inbound"


def test_unprivileged_daemon_refuses_to_give_its_socket_to_another_user(postfix_available: None) -> None:
    stack = Stack(family="unix", daemon_user=USER, milter={"socket_owner": "postfix:postfix"})
    try:
        with pytest.raises(HarnessError) as failed:
            stack.start()
        assert f"milter.socket_owner 'postfix:postfix': running as {USER}" in str(failed.value)
        assert "':GROUP'" in str(failed.value)
    finally:
        stack.close()


def test_unprivileged_daemon_names_a_history_file_it_cannot_write(postfix_available: None) -> None:
    """`postwarden history import` run as root leaves a database the daemon's user cannot
    write: the daemon refuses it at start, naming the file, its owner and the fix, instead of
    failing on the first outbound message."""
    stack = Stack(family="unix", daemon_user=USER)
    database = stack.root / "imported-as-root" / "history.sqlite"
    database.parent.mkdir()
    SqliteStore(str(database)).close()
    stack.daemon.config_path.write_text(daemon_config(stack.root, stack.milter_spec, **{
        "milter": {"socket_owner": ":postfix"}, "control_socket": str(stack.root / "state" / "control.sock"),
        "recipient_history": {"enabled": True, "secret": "a site secret of the test",
                              "sqlite_path": str(database)}}))
    try:
        with pytest.raises(HarnessError) as failed:
            stack.start()
        assert f"{database} is owned by root and not writable by {USER}" in str(failed.value)
        assert f"chown -R {USER} {database.parent}" in str(failed.value)
    finally:
        stack.close()
