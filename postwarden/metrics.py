"""Prometheus metrics: what the daemon decided, how fast, and why.

Metrics live in one registry per process (not the global default one, so tests and an embedding
program do not collide) and are served on a loopback port when `metrics.listen` is set. Counts
are labelled by action and direction only: per-address labels would explode the series count.
"""

from __future__ import annotations

import logging
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from postwarden import __version__
from postwarden.verdict import Verdict

log = logging.getLogger("postwarden.metrics")

REGISTRY = CollectorRegistry(auto_describe=True)

DECISIONS = Counter("postwarden_decisions", "Messages decided, by action and direction",
                    ["action", "direction"], registry=REGISTRY)
LATENCY = Histogram("postwarden_decision_seconds", "Time from end of message to verdict",
                    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                    registry=REGISTRY)
SCORES = Histogram("postwarden_score", "Total score of decided messages", ["direction"],
                   buckets=(-5, 0, 1, 2.5, 5, 7.5, 10, 15, 25, 50, 100), registry=REGISTRY)
REASONS = Counter("postwarden_reason_hits", "Reasons that contributed to verdicts, by kind and id",
                  ["kind", "id"], registry=REGISTRY)
ERRORS = Counter("postwarden_errors", "Internal errors answered with on_error", registry=REGISTRY)
RELOADS = Counter("postwarden_reloads", "Configuration reloads by outcome", ["outcome"],
                  registry=REGISTRY)
GENERATION = Gauge("postwarden_config_generation", "Generation of the running configuration",
                   registry=REGISTRY)
INFO = Gauge("postwarden_info", "Version of the running daemon", ["version"], registry=REGISTRY)
INFO.labels(__version__).set(1)

_started = threading.Lock()
_listening: tuple[str, int] | None = None


def record_decision(verdict: Verdict, seconds: float) -> None:
    DECISIONS.labels(verdict.action.value, verdict.direction).inc()
    LATENCY.observe(seconds)
    SCORES.labels(verdict.direction).observe(verdict.score)
    for reason in verdict.reasons:
        if reason.kind == "error":
            ERRORS.inc()
        REASONS.labels(reason.kind, reason.id).inc()  # ids are fixed names, never addresses


def parse_listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:9425, got {text!r}")
    return host.strip("[]"), int(port)


def check_listen(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        parse_listen(text)
    except ValueError as exc:
        return str(exc)
    return None


def serve_metrics(listen: str) -> None:
    """Start the HTTP exporter once; a reload cannot move it (restart for that)."""
    global _listening
    with _started:
        if _listening is not None:
            if _listening != parse_listen(listen):
                log.warning("metrics.listen changed to %s; restart to move the exporter", listen)
            return
        host, port = parse_listen(listen)
        start_http_server(port, addr=host, registry=REGISTRY)
        _listening = (host, port)
        log.info("metrics on http://%s:%d/metrics", host, port)
