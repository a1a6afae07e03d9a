"""Logging to stderr or syslog, and the one JSON line written per decision."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import time

from postwarden.config import LogSettings
from postwarden.transaction import Transaction
from postwarden.verdict import Verdict

decision_log = logging.getLogger("postwarden.decision")


def setup_logging(settings: LogSettings) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler: logging.Handler
    if settings.target == "syslog":
        facility = logging.handlers.SysLogHandler.facility_names.get(settings.syslog_facility, 2 << 3)
        handler = logging.handlers.SysLogHandler(address=settings.syslog_address, facility=facility)
        handler.setFormatter(logging.Formatter("postwarden[%(process)d]: %(levelname)s %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(settings.level.upper())
    decision_log.disabled = not settings.decisions


def log_decision(txn: Transaction, verdict: Verdict, elapsed: float) -> None:
    if decision_log.disabled or not decision_log.isEnabledFor(logging.INFO):
        return
    record = {
        "ts": round(time.time(), 3),
        "queue_id": txn.queue_id or None,
        "client_ip": txn.client_ip,
        "helo": txn.helo,
        "auth_user": txn.auth_user,
        "mail_from": txn.mail_from,
        "rcpts": txn.rcpts,
        "size": txn.body_size,
        "elapsed_ms": round(elapsed * 1000, 2),
        **verdict.as_dict(),
    }
    record.pop("headers", None)
    decision_log.info(json.dumps(record, ensure_ascii=False))
