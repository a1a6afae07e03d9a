"""The engine: direction, checks, policy. Pure Python, shared by the milter and `scan`.

An Engine is immutable once built; a reload builds a new one beside it and swaps the
reference, so a message always finishes with the engine it started with.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from postwarden.config import Config
from postwarden.context import INBOUND, OUTBOUND, Check, Hit, ScanContext
from postwarden.gtube import GtubeCheck
from postwarden.message import parse_message
from postwarden.netaddr import NetworkSet
from postwarden.policy import decide, error_verdict
from postwarden.transaction import Transaction
from postwarden.verdict import Reason, Verdict

log = logging.getLogger("postwarden.engine")


def default_checks(config: Config) -> list[Check]:
    checks: list[Check] = []
    rules = None
    if config.rules.enabled:
        from postwarden.rules.check import build_rules_check  # raises ConfigError on bad rules

        rules = build_rules_check(config)
    # The pack carries GTUBE as rules (tag gtube); the built-in check covers a rule set without.
    if config.gtube.enabled and not (rules is not None and rules.defines("GTUBE")):
        checks.append(GtubeCheck())
    if rules is not None:
        checks.append(rules)
    if config.recipient_history.enabled:
        from postwarden.misdirection.factory import build_check

        checks.append(build_check(config))  # outbound only; ConfigError when it cannot be built
    if config.models.enabled:
        from postwarden.classifiers.text_check import build_text_check

        checks.append(build_text_check(config.models))  # ConfigError when the model cannot load
    return checks


class Engine:
    def __init__(self, config: Config, checks: Sequence[Check] | None = None, learn: bool = False):
        self.config = config
        self.learn = learn  # the daemon's engine learns from its decisions; `scan` never does
        self.internal_networks = NetworkSet(config.internal_networks)
        self.checks = list(checks) if checks is not None else default_checks(config)

    def direction(self, txn: Transaction) -> str:
        """Outbound when the client authenticated or sits in internal_networks."""
        if txn.auth_user or txn.client_ip in self.internal_networks:
            return OUTBOUND
        return INBOUND

    def decide(self, txn: Transaction) -> Verdict:
        """Decide one message; exceptions propagate (see decide_safely)."""
        direction = self.direction(txn)
        message = parse_message(txn.raw_message(), truncated=txn.body_truncated)
        ctx = ScanContext(txn=txn, message=message, direction=direction)
        hits: list[Hit] = []
        for check in self.checks:
            hits.extend(check.evaluate(ctx))
        extra = []
        if message.defects:
            extra.append(Reason("parser", "MALFORMED", 0.0, ",".join(message.defects[:8])))
        verdict = decide(hits, ctx, self.config, extra)
        verdict.model = dict(ctx.notes.get("text_model") or {})
        if self.learn:
            self._learn(ctx, verdict)
        return verdict

    def _learn(self, ctx: ScanContext, verdict: Verdict) -> None:
        """Show the decision to checks that learn from it (``learn(ctx, verdict)``, e.g. the
        recipient history on accepted outbound mail). Learning never changes the verdict."""
        for check in self.checks:
            learn = getattr(check, "learn", None)
            if learn is None:
                continue
            try:
                learn(ctx, verdict)
            except Exception:
                log.exception("check %s could not learn from queue id %s", check.name,
                              ctx.txn.queue_id or "-")

    def decide_safely(self, txn: Transaction) -> Verdict:
        """Decide, or answer with the configured on_error action; never raises."""
        try:
            return self.decide(txn)
        except Exception as exc:
            log.exception("internal error deciding queue id %s", txn.queue_id or "-")
            try:
                direction = self.direction(txn)
            except Exception:
                direction = INBOUND
            return error_verdict(self.config, direction, f"{type(exc).__name__}: {exc}")
