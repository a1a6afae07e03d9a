"""Metrics an operator scrapes: decisions by action, latency, reasons, over real HTTP."""

from __future__ import annotations

import socket
import urllib.request

from postwarden import metrics
from postwarden.verdict import Action, Reason, Verdict


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_decisions_are_exported_over_http() -> None:
    port = free_port()
    metrics.serve_metrics(f"127.0.0.1:{port}")
    labels = {"action": "discard", "direction": "outbound"}
    before = metrics.REGISTRY.get_sample_value("postwarden_decisions_total", labels) or 0.0
    verdict = Verdict(Action.DISCARD, 7.0, "outbound", reasons=[Reason("rule", "TEST_RULE", 7.0)])
    metrics.record_decision(verdict, 0.003)
    metrics.record_decision(verdict, 0.004)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert f'postwarden_decisions_total{{action="discard",direction="outbound"}} {before + 2}' in text
    assert 'postwarden_reason_hits_total{id="TEST_RULE",kind="rule"}' in text
    assert "postwarden_decision_seconds_bucket" in text
    assert 'postwarden_info{version="' in text


def test_listen_is_validated() -> None:
    assert metrics.check_listen("127.0.0.1:9425") is None
    assert "HOST:PORT" in (metrics.check_listen("9425") or "")
