"""`postwarden history import`: bootstrap the history from existing sent-mail folders.

Every message found (files, mbox, maildir, directories, archives) is learned as if it had just
been delivered at its Date, so a new installation knows each sender's contacts on day one.
Messages without a Date or a usable recipient are counted and skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from postwarden.misdirection.addresses import normalise
from postwarden.misdirection.corpus import sent_message
from postwarden.misdirection.history import RecipientHistory
from postwarden.sources import read_messages


@dataclass
class ImportResult:
    learned: int = 0
    skipped: int = 0
    senders: int = 0


def import_history(history: RecipientHistory, paths: Iterable[str],
                   sender: str | None = None) -> ImportResult:
    result = ImportResult()
    senders: set[str] = set()
    owner = normalise(sender) if sender else None
    stream = iter(read_messages(list(paths)))
    while True:
        with history.store.batch():  # a few hundred messages per transaction
            count = 0
            for stored in stream:
                sent = sent_message(stored, owner)
                if sent is None:
                    result.skipped += 1
                    continue
                evidence = history.lookup(sent.sender, list(sent.recipients), sent.subject,
                                          sent.text, sent.at)
                history.learn(evidence, sent.at)
                senders.add(sent.sender)
                result.learned += 1
                count += 1
                if count >= 500:
                    break
            else:
                break
    result.senders = len(senders)
    return result
