"""pymilter callbacks: collect one Transaction per message, decide at end of message, apply.

One instance per SMTP connection (libmilter runs each in its own thread). Callbacks that need
no answer are marked ``@Milter.noreply`` so Postfix does not wait a round trip per header;
``data()`` is implemented so the DATA-stage macros get an answer and no Nagle stall follows.
"""

from __future__ import annotations

import logging
import socket
import time
import weakref

import Milter

from postwarden.logsetup import log_decision
from postwarden.metrics import record_decision
from postwarden.milter.inflight import InFlight
from postwarden.policy import OWN_HEADERS
from postwarden.runtime import Runtime
from postwarden.smtp_reply import with_queue_id
from postwarden.transaction import Transaction, split_mail_params, strip_brackets
from postwarden.verdict import Action, Verdict

log = logging.getLogger("postwarden.milter")

MACROS = ("i", "j", "_", "{daemon_name}", "{auth_authen}", "{auth_type}", "{client_addr}",
          "{client_name}", "{mail_addr}")
RETURN_CODES = {
    Action.ACCEPT: Milter.ACCEPT,
    Action.QUARANTINE: Milter.ACCEPT,
    Action.REJECT: Milter.REJECT,
    Action.TEMPFAIL: Milter.TEMPFAIL,
    Action.DISCARD: Milter.DISCARD,
}


class PostwardenMilter(Milter.Base):
    def __init__(self, runtime: Runtime, inflight: InFlight):
        self.bundle = runtime.acquire()  # fixed for this connection: reloads apply to new ones
        # Given back once, at close(); if libmilter never calls close, when the object goes.
        self._release = weakref.finalize(self, runtime.release, self.bundle)
        self._release.atexit = False
        self.inflight = inflight
        self.txn: Transaction | None = None
        self.client_ip: str | None = None
        self.client_port: int | None = None
        self.client_name: str | None = None
        self.helo_name: str | None = None
        self.refuse_message = False  # the message began while the daemon was stopping

    # -- connection ---------------------------------------------------------------------------
    @Milter.noreply
    def connect(self, hostname: str, family: int, hostaddr: object) -> int:
        self.client_name = hostname
        if family in (socket.AF_INET, socket.AF_INET6) and isinstance(hostaddr, tuple):
            self.client_ip, self.client_port = str(hostaddr[0]), int(hostaddr[1])
        else:
            self.client_ip = self.getsymval("{client_addr}") or None
        return Milter.CONTINUE

    @Milter.noreply
    def hello(self, heloname: str) -> int:
        self.helo_name = heloname
        return Milter.CONTINUE

    # -- one message --------------------------------------------------------------------------
    @Milter.decode("replace")
    @Milter.noreply
    def envfrom(self, mailfrom: str, *params: str) -> int:
        self._end_transaction()
        self.txn = Transaction(
            client_ip=self.client_ip, client_port=self.client_port, client_name=self.client_name,
            helo=self.helo_name, mail_from=strip_brackets(mailfrom),
            mail_params=split_mail_params(params), max_body=self.bundle.config.max_scan_bytes,
        )
        self.inflight.enter()
        self.refuse_message = self.inflight.draining
        self._read_macros()
        self.txn.auth_user = self.txn.macros.get("{auth_authen}") or None
        return Milter.CONTINUE

    @Milter.decode("replace")
    @Milter.noreply
    def envrcpt(self, rcpt: str, *params: str) -> int:
        if self.txn is not None:
            self.txn.rcpts.append(strip_brackets(rcpt))
        return Milter.CONTINUE

    def data(self) -> int:
        if self.refuse_message:
            self.setreply("451", "4.3.2", "Mail filter restarting, try again later")
            return Milter.TEMPFAIL
        self._read_macros()
        return Milter.CONTINUE

    @Milter.decode("bytes")
    @Milter.noreply
    def header(self, name: str, value: bytes) -> int:
        if self.txn is not None:
            self.txn.headers.append((name, value if isinstance(value, bytes) else value.encode()))
        return Milter.CONTINUE

    @Milter.noreply
    def eoh(self) -> int:
        return Milter.CONTINUE

    @Milter.noreply
    def body(self, chunk: bytes) -> int:
        if self.txn is not None:
            self.txn.add_body(chunk)
        return Milter.CONTINUE

    def eom(self) -> int:
        txn = self.txn
        if txn is None:
            return Milter.CONTINUE
        started = time.perf_counter()
        try:
            self._read_macros()
            txn.queue_id = txn.macros.get("i", "")
            verdict = self.bundle.engine.decide_safely(txn)
            code = self._apply(txn, verdict)
            elapsed = time.perf_counter() - started
            log_decision(txn, verdict, elapsed)
            record_decision(verdict, elapsed)
            return code
        except Exception:
            log.exception("cannot apply verdict for queue id %s", txn.queue_id or "-")
            return self._on_error()
        finally:
            self._end_transaction()

    def abort(self) -> int:
        self._end_transaction()
        return Milter.CONTINUE

    def close(self) -> int:
        self._end_transaction()
        self._release()  # a retired bundle's stores close when its last connection is gone
        return Milter.CONTINUE

    # -- helpers ------------------------------------------------------------------------------
    def _end_transaction(self) -> None:
        if self.txn is not None:
            self.txn = None
            self.inflight.leave()

    def _read_macros(self) -> None:
        if self.txn is None:
            return
        for name in MACROS:
            value = self.getsymval(name)
            if value:
                self.txn.macros[name] = value

    def _on_error(self) -> int:
        config = self.bundle.config
        if config.on_error == "accept":
            return Milter.ACCEPT
        self._reply("451", "4.3.0", config.reply.error)
        return Milter.TEMPFAIL

    def _reply(self, code: str, xcode: str, text: str) -> None:
        txn, config = self.txn, self.bundle.config
        if config.reply.queue_id and txn is not None and txn.queue_id:
            text = with_queue_id(text, txn.queue_id)
        self.setreply(code, xcode, text)

    def _apply(self, txn: Transaction, verdict: Verdict) -> int:
        if verdict.action in (Action.ACCEPT, Action.QUARANTINE):
            if self.bundle.config.headers.strip_foreign:
                self._strip_own_headers(txn)
            for name, value in verdict.headers:
                self.addheader(name, value)
            if verdict.action is Action.QUARANTINE:
                self.quarantine(verdict.quarantine_reason or "postwarden")
        elif verdict.action in (Action.REJECT, Action.TEMPFAIL):
            self._reply(verdict.smtp_code, verdict.smtp_xcode, verdict.smtp_text)
        return RETURN_CODES[verdict.action]

    def _strip_own_headers(self, txn: Transaction) -> None:
        """Delete every copy of our headers that came with the message (forgeries)."""
        for own in OWN_HEADERS:
            count = sum(1 for name, _ in txn.headers if name.lower() == own.lower())
            for index in range(count, 0, -1):
                self.chgheader(own, index, "")
