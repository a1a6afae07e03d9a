"""A recipient one edit away from two equally strong known domains must be told the same "did
you mean" in every process: near-miss keys come from sets, whose order changes with
PYTHONHASHSEED, so several milter nodes (or a restart) would otherwise name different domains."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
from postwarden.misdirection.history import Recipient, RecipientHistory
from postwarden.misdirection.scorer import score_message
from postwarden.misdirection.model import load_weights
from postwarden.stores.sqlite import SqliteStore

T0 = 1_700_000_000.0
history = RecipientHistory(SqliteStore(":memory:"), "a site secret for tests", 180.0, 730.0, ("corp.test",))
for k, rcpt in enumerate(["ann@acme.com", "ann@acne.com"] * 3):  # equal weights, equal ages
    history.learn(history.lookup("me@corp.test", [Recipient(rcpt)], "Hello", "Ann, hello.", T0 + k // 2))
evidence = history.lookup("me@corp.test", [Recipient("bob@acmne.com")], "Hello", "Bob, hello.", T0 + 86400)
ref = evidence.recipients[0].near_domain
print(history.name_of("d", ref.token, "acmne.com"))
"""


def _named(seed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True,
                          env=env, timeout=120).stdout.strip()


def test_the_same_lookalike_is_named_whatever_the_hash_seed() -> None:
    named = {_named(seed) for seed in ("0", "1", "2", "3", "4", "5")}
    assert len(named) == 1, named
    assert named <= {"acme.com", "acne.com"}
