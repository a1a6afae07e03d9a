"""`postwarden quarantine` on a real Postfix's hold queue: what an operator sees and does with
the messages postwarden held."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import pytest
from postfix_harness import make_message
from postfix_instance import Stack, find_postwarden, wait_until

from postwarden.gtube import gtube_string
from postwarden.verdict import Action

pytestmark = pytest.mark.postfix


def quarantine(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([find_postwarden() or "postwarden", "quarantine", "--postfix-config",
                           str(stack.postfix.config_dir), *args],
                          capture_output=True, text=True, timeout=120, check=False)


def hold(stack: Stack, subject: str) -> tuple[str, str]:
    message_id, raw = make_message(gtube_string(Action.QUARANTINE) + "\n", subject=subject)
    result = stack.send(raw)
    assert result.accepted and result.queue_id, result
    return message_id, result.queue_id


def test_list_release_and_delete_held_messages(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(family="unix")
    kept_id, kept = hold(stack, "release me")
    dropped_id, dropped = hold(stack, "delete me")

    listed = quarantine(stack, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["queue_id"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert set(rows) == {kept, dropped}
    assert rows[kept]["subject"] == "release me"
    assert rows[kept]["reason"] == "postwarden: GTUBE_QUARANTINE=0.00"
    assert rows[kept]["recipients"] and rows[kept]["sender"]
    plain = quarantine(stack, "list")
    assert kept in plain.stdout and "GTUBE_QUARANTINE" in plain.stdout

    released = quarantine(stack, "release", kept)
    assert released.returncode == 0, released.stderr
    delivered = stack.postfix.wait_delivered(kept_id)
    assert delivered["Subject"] == "release me"

    deleted = quarantine(stack, "delete", dropped)
    assert deleted.returncode == 0, deleted.stderr
    wait_until(lambda: all(e["queue_id"] != dropped for e in stack.postfix.queue()), 15, "deletion")
    assert stack.postfix.find_delivered(dropped_id) is None
    assert quarantine(stack, "list").stdout == ""


def test_a_queue_id_not_in_the_hold_queue_is_refused_and_nothing_changes(
        make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(family="unix")
    _, held = hold(stack, "stay held")
    for args, why in ((("release", "ABCDE12345"), "not in the hold queue: ABCDE12345"),
                      (("delete", "-d"), "error: the following arguments are required"),
                      (("delete", "ALL"), "not a Postfix queue id: ALL")):
        refused = quarantine(stack, *args)
        assert refused.returncode != 0 and why in refused.stderr, (args, refused.stderr)
    assert [e["queue_name"] for e in stack.postfix.queue() if e["queue_id"] == held] == ["hold"]
