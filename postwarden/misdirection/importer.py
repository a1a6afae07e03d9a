"""`postwarden history import`: bootstrap the history from existing sent-mail folders.

Every message found (files, mbox, maildir, directories, archives) is learned as if it had just
been delivered at its Date, so a new installation knows each sender's contacts on day one.
Messages without a Date or a usable recipient are counted and skipped, and so are messages an
import learned before (by Message-ID, else by their bytes: ``RecipientHistory.import_key``): a
Sent folder and an archive that holds it, or the same import run twice, count each message once.
The daemon marks the mail it learns as it passes the same way, so a Sent folder imported after
it has run counts what it already learned once (matched by Message-ID: the copy in a Sent folder
and the message as sent differ in their bytes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from postwarden.classifiers.split import identity
from postwarden.misdirection.addresses import normalise
from postwarden.misdirection.corpus import sent_message
from postwarden.misdirection.history import RecipientHistory
from postwarden.sources import read_messages


@dataclass
class ImportResult:
    learned: int = 0
    skipped: int = 0  # without a date or a usable recipient
    duplicates: int = 0  # learned before, by this import or an earlier one
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
            marked: set[tuple[str, str]] = set()  # this batch's, which a store may not show until it ends
            for stored in stream:
                sent = sent_message(stored, owner)
                if sent is None:
                    result.skipped += 1
                    continue
                message_identity = identity(stored.raw)
                key = history.import_key(sent.sender, message_identity)
                if key in marked or history.store.get([key]):
                    result.duplicates += 1
                    continue
                evidence = history.lookup(sent.sender, list(sent.recipients), sent.subject,
                                          sent.text, sent.at)
                history.learn(evidence, sent.at, message_identity)
                marked.add(key)
                senders.add(sent.sender)
                result.learned += 1
                count += 1
                if count >= 500:
                    break
            else:
                break
    result.senders = len(senders)
    return result
