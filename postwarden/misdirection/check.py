"""The engine's check for misdirected outbound mail, and its learning hook.

``evaluate`` scores every recipient of an outbound message against the sender's history and,
when one looks wrong, returns a direct action (reject with 550 5.7.1, or quarantine) whose reply
names the recipient, the contact it resembles and how to send anyway. Inbound mail is never
scored. Every recipient also gets a ``kind="recipient"`` reason with its score and the signals
behind it (ids ``RCPT_OK`` / ``RCPT_MISDIRECTED``; the address is only in the detail, so the
X-Postwarden-Reasons header of outgoing mail never lists recipients, Bcc included).

``learn`` is called by an engine built to learn (the daemon's; `scan` never learns) after the
decision: an accepted message teaches the history; a stopped one is remembered so that the same
message sent again within the window goes through (send anyway).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import getaddresses
from typing import Any

from postwarden.classifiers.split import message_id_identity
from postwarden.context import OUTBOUND, Hit, ScanContext
from postwarden.misdirection.addresses import normalise
from postwarden.misdirection.history import MessageEvidence, Recipient, RecipientHistory
from postwarden.misdirection.model import Weights, load_weights
from postwarden.misdirection.scorer import RecipientScore, score_message
from postwarden.misdirection.validity import AddressValidator
from postwarden.stores.base import HistoryStore
from postwarden.verdict import Action, Verdict

log = logging.getLogger("postwarden.misdirection")
NOTE = "recipient_history"


@dataclass
class _State:
    sender: str
    evidence: MessageEvidence
    fingerprint: str
    flagged: list[RecipientScore] = field(default_factory=list)
    confirmed: str = ""
    now: float = 0.0


class RecipientHistoryCheck:
    name = "recipient_history"

    def __init__(self, settings: Any, history: RecipientHistory, weights: Weights | None = None,
                 validator: AddressValidator | None = None, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.history = history
        self.weights = weights or load_weights(settings.weights)
        self.threshold = (settings.threshold if settings.threshold is not None
                          else self.weights.default_threshold)
        self.validator = validator or AddressValidator(settings.check_mx, settings.mx_timeout,
                                                       nameservers=settings.mx_nameservers,
                                                       port=settings.mx_port)
        self.clock = clock
        self.action = Action.QUARANTINE if settings.action == "quarantine" else Action.REJECT

    @property
    def store(self) -> HistoryStore:
        return self.history.store

    def close(self) -> None:
        """Close the history store (its bundle was replaced by a reload, or the daemon stops)."""
        self.history.store.close()

    # -- scoring -------------------------------------------------------------------------------
    def _recipients(self, ctx: ScanContext) -> list[Recipient]:
        names = {normalise(a.address): a.name for a in [*ctx.message.to, *ctx.message.cc]}
        seen: dict[str, Recipient] = {}
        for rcpt in ctx.txn.rcpts:
            address = normalise(rcpt)
            if address and address not in seen:
                seen[address] = Recipient(address, names.get(address, ""))
        return list(seen.values())

    @staticmethod
    def _sender(ctx: ScanContext) -> str:
        if ctx.txn.mail_from:
            return normalise(ctx.txn.mail_from)
        pairs = getaddresses([a.address for a in ctx.message.from_])
        return normalise(pairs[0][1]) if pairs else ""

    def _problems(self, evidence: MessageEvidence) -> dict[str, str]:
        out = {}
        for ev in evidence.recipients:
            problem = self.validator.recipient_problem(ev)
            if not problem and ev.domain_org is None and not ev.internal:
                problem = self.validator.domain_problem(ev.rcpt.domain)
            if problem:
                out[ev.rcpt.address] = problem
        return out

    def evaluate(self, ctx: ScanContext) -> Iterator[Hit]:
        if ctx.direction != OUTBOUND:
            return
        sender, rcpts = self._sender(ctx), self._recipients(ctx)
        if not sender or not rcpts:
            return
        now = self.clock()
        subject = ctx.message.subject
        evidence = self.history.lookup(sender, rcpts, subject, ctx.message.text, now)
        fingerprint = self.history.fingerprint(sender, subject, [r.address for r in rcpts])
        state = _State(sender, evidence, fingerprint, now=now)
        ctx.notes[NOTE] = state
        if evidence.sender_messages < self.settings.min_sender_messages:
            yield Hit("RCPT_HISTORY_TOO_SHORT", kind="recipient",
                      detail=f"{sender} has {evidence.sender_messages:.0f} messages of history; scoring "
                             f"starts at {self.settings.min_sender_messages}")
            return
        scores = score_message(self.history, self.weights, evidence, self.threshold, self._problems(evidence))
        for rs in scores:
            yield Hit("RCPT_MISDIRECTED" if rs.flagged else "RCPT_OK", kind="recipient",
                      detail=rs.detail(self.threshold))
        flagged = sorted((rs for rs in scores if rs.flagged), key=lambda rs: -rs.score)
        if not flagged:
            return
        state.flagged = flagged
        state.confirmed = self._confirmation(state, subject)
        if state.confirmed:
            log.info("send anyway (%s) by %s to %s", state.confirmed, sender,
                     ", ".join(rs.address for rs in flagged))
            yield Hit("MISDIRECTION_CONFIRMED", kind="check",
                      detail=f"{state.confirmed}: {', '.join(rs.address for rs in flagged)}")
            return
        yield Hit("MISDIRECTED_RECIPIENT", action=self.action, reply=self._reply(flagged),
                  detail="; ".join(rs.detail(self.threshold) for rs in flagged),
                  shadow=self.settings.shadow, label="misdirected")

    def _confirmation(self, state: _State, subject: str) -> str:
        marker = self.settings.confirm_marker
        if marker and marker.lower() in subject.lower():
            return "confirmation marker"
        window = self.settings.send_anyway_minutes * 60.0
        mark = self.history.marked(state.sender, state.fingerprint)
        if mark and mark[0] == "flagged" and 0 <= state.now - mark[1] <= window:
            return "sent again within the send-anyway window"
        return ""

    def _reply(self, flagged: list[RecipientScore]) -> str:
        top = flagged[0]
        text = f"Possibly misdirected: {top.address} {top.why}"
        if top.resembles:
            text += f" ({top.resembles})"
        if len(flagged) > 1:
            text += f"; also {', '.join(rs.address for rs in flagged[1:3])}"
        how = []
        if self.settings.send_anyway_minutes > 0:
            how.append(f"send the same message again within {self.settings.send_anyway_minutes} minutes")
        if self.settings.confirm_marker:
            how.append(f"add {self.settings.confirm_marker} to the subject")
        if how:
            text += ". If it is right, " + " or ".join(how)
        return text

    # -- learning ------------------------------------------------------------------------------
    def learn(self, ctx: ScanContext, verdict: Verdict) -> None:
        """After the decision: learn a delivered message, remember a stopped one."""
        state: _State | None = ctx.notes.get(NOTE)  # type: ignore[assignment]
        if state is None:
            return
        if verdict.action is Action.ACCEPT:
            if self.settings.learn:
                self.history.learn(state.evidence, state.now, _message_id(ctx))
            if state.confirmed:
                self.history.mark(state.sender, state.fingerprint, "confirmed", state.now)
        elif state.flagged and any(r.id == "MISDIRECTED_RECIPIENT" and not r.shadow for r in verdict.reasons):
            self.history.mark(state.sender, state.fingerprint, "flagged", state.now)


def _message_id(ctx: ScanContext) -> bytes | None:
    """The message's identity by its Message-ID, as ``history import`` will name the copy in the
    sender's Sent folder; None without one (behind Postfix there is always one: its cleanup adds
    it before the milter sees the headers, though the Sent folder's copy then lacks it)."""
    return message_id_identity(ctx.message.message_id.encode("utf-8", "surrogateescape"))
