"""Turn hits into a Verdict: allowlist first, then direct actions, then score thresholds."""

from __future__ import annotations

from postwarden.config import Config
from postwarden.context import Hit, ScanContext
from postwarden.smtp_reply import clean_header_value, clean_reply_text
from postwarden.verdict import ACTION_STRENGTH, Action, Reason, Verdict

STATUS_HEADER = "X-Postwarden-Status"
REASONS_HEADER = "X-Postwarden-Reasons"
QUARANTINE_HEADER = "X-Postwarden-Quarantine"
OWN_HEADERS = (STATUS_HEADER, REASONS_HEADER, QUARANTINE_HEADER)
QUARANTINE_REASON_BYTES = 100  # Postfix keeps no more of a hold reason than this

SMTP_CODES = {
    Action.REJECT: ("550", "5.7.1"),
    Action.TEMPFAIL: ("451", "4.7.1"),
}


def _summary(reasons: list[Reason], limit: int = 20) -> str:
    parts = []
    for reason in reasons[:limit]:
        text = f"{reason.id}={reason.score:.2f}"
        if reason.shadow:
            text += "(shadow)"
        parts.append(text)
    if len(reasons) > limit:
        parts.append(f"+{len(reasons) - limit} more")
    return ", ".join(parts)


def decide(hits: list[Hit], ctx: ScanContext, config: Config,
           extra_reasons: list[Reason] | None = None) -> Verdict:
    live = [h for h in hits if not h.shadow]
    score = sum(h.score for h in live)
    reasons = [*(extra_reasons or []), *(h.reason() for h in hits)]
    thresholds = config.thresholds
    direct = [h for h in live if h.action is not None]
    chosen: Hit | None = None
    if any(h.action is Action.ACCEPT for h in direct):
        action, label = Action.ACCEPT, "allowlisted"
    elif direct:
        chosen = max(direct, key=lambda h: ACTION_STRENGTH[h.action])  # type: ignore[index]
        action = chosen.action  # type: ignore[assignment]
        label = chosen.label or "spam"
    elif score >= thresholds.reject:
        action, label = Action.REJECT, "spam"
    elif score >= thresholds.quarantine:
        action, label = Action.QUARANTINE, "spam"
    elif score >= thresholds.tag:
        action, label = Action.ACCEPT, "spam"
    else:
        action, label = Action.ACCEPT, "ham"
    verdict = Verdict(action=action, score=score, direction=ctx.direction, label=label,
                      reasons=reasons)
    if action in SMTP_CODES:
        verdict.smtp_code, verdict.smtp_xcode = SMTP_CODES[action]
        default = config.reply.reject if action is Action.REJECT else config.reply.tempfail
        verdict.smtp_text = clean_reply_text(chosen.reply if chosen and chosen.reply else default)
    if action in (Action.ACCEPT, Action.QUARANTINE):
        verdict.headers.append((STATUS_HEADER, f"{label} score={score:.2f} direction={ctx.direction}"))
        if config.headers.reasons and reasons:
            verdict.headers.append((REASONS_HEADER, clean_header_value(_summary(reasons))))
    if action is Action.QUARANTINE:
        why = _summary([r for r in reasons if not r.shadow], limit=5) or "policy"
        text = clean_header_value(f"postwarden: {why}")
        verdict.quarantine_reason = text.encode()[:QUARANTINE_REASON_BYTES].decode("ascii", "ignore")
        verdict.headers.append((QUARANTINE_HEADER, text))
    return verdict


def error_verdict(config: Config, direction: str, error: str) -> Verdict:
    """The configured on_error answer when deciding failed."""
    reason = Reason("error", "INTERNAL_ERROR", 0.0, clean_header_value(error, 200))
    if config.on_error == "accept":
        verdict = Verdict(Action.ACCEPT, 0.0, direction, label="unscanned", reasons=[reason])
        verdict.headers.append((STATUS_HEADER, f"unscanned score=0.00 direction={direction}"))
        return verdict
    return Verdict(Action.TEMPFAIL, 0.0, direction, smtp_code="451", smtp_xcode="4.3.0",
                   smtp_text=config.reply.error, label="unscanned", reasons=[reason])
