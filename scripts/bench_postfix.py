"""Latency and throughput through a real Postfix, with and without postwarden, in one run.

One private Postfix (scripts/postfix_instance.py) gets three smtpd listeners on loopback:
no milter, postwarden on a unix socket, postwarden on a TCP socket (two daemons, same
default configuration apart from the socket). Mail goes to ``bench.test``, which
``transport_maps = inline:{bench.test=discard:bench}`` throws away after queueing, so the
figures are Postfix's and the milter's, not a delivery agent's.

Per repetition and listener, CONNECTIONS client threads each hold one SMTP session and send
MESSAGES messages on it; the latency of a message is MAIL FROM to the reply after the final
dot. The order of the listeners is shuffled per repetition; the figures reported are the
medians over repetitions of each repetition's p50, p99 and messages per second. The client
runs on the same machine and shares its cores with Postfix and postwarden.

Run as root:  .venv/bin/python scripts/bench_postfix.py [--reps 5] [--messages 50]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import smtplib
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from postfix_instance import (
    MilterDaemon,
    PostfixInstance,
    daemon_config,
    make_workdir,
    milter_socket_specs,
    missing_components,
)

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "samples" / "ham.eml"
LISTENERS = ("no milter", "postwarden, unix socket", "postwarden, TCP socket")


def _message(index: int) -> bytes:
    raw = SAMPLE.read_bytes().replace(b"\r\n", b"\n")
    head, body = raw.split(b"\n\n", 1)
    lines = [line for line in head.split(b"\n") if not line.lower().startswith((b"message-id:", b"to:"))]
    lines += [b"To: someone@bench.test", f"Message-ID: <bench-{index}@example.test>".encode()]
    return (b"\n".join(lines) + b"\n\n" + body).replace(b"\n", b"\r\n")


def _session(port: int, count: int, first_index: int, latencies: list[float], errors: list[str]) -> None:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            client.ehlo()
            for i in range(count):
                raw = _message(first_index + i)
                started = time.perf_counter()
                code, text = client.mail("sender@example.test")
                if code == 250:
                    code, text = client.rcpt("someone@bench.test")
                if code == 250:
                    code, text = client.data(raw)
                if code != 250:
                    errors.append(f"{code} {text!r}")
                    client.rset()
                    continue
                latencies.append(time.perf_counter() - started)
    except (smtplib.SMTPException, OSError) as exc:
        errors.append(repr(exc))


def _round(port: int, connections: int, messages: int) -> tuple[float, float, float, list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    threads = [threading.Thread(target=_session, args=(port, messages, n * messages, latencies, errors))
               for n in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if not latencies:
        return 0.0, 0.0, 0.0, errors
    ordered = sorted(latencies)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50 * 1000, p99 * 1000, len(latencies) / wall, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--messages", type=int, default=50, help="messages per connection per round")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the instance directory")
    args = parser.parse_args()
    missing = missing_components()
    if missing:
        print("bench: cannot run, missing: " + "; ".join(missing), file=sys.stderr)
        return 1

    root = make_workdir("postwarden-bench-")
    daemons: list[MilterDaemon] = []
    postfix = None
    try:
        listeners: dict[str, str] = {LISTENERS[0]: ""}
        for name, family in ((LISTENERS[1], "unix"), (LISTENERS[2], "inet")):
            milter_spec, postfix_spec = milter_socket_specs(root, family)
            config = daemon_config(root, milter_spec, control_socket=str(root / f"control-{family}.sock"))
            daemons.append(MilterDaemon(root, config, name=f"postwarden-{family}"))
            listeners[name] = postfix_spec
        (root / "queue").mkdir(exist_ok=True)
        for daemon in daemons:
            daemon.start()
        postfix = PostfixInstance(root, listeners=listeners, main_cf={
            "transport_maps": "inline:{bench.test=discard:bench}",
            "smtpd_client_connection_count_limit": "0",
        })
        postfix.start()

        for name in LISTENERS:  # warm up: processes forked, model loaded, caches filled
            _round(postfix.ports[name], args.connections, 5)
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in LISTENERS}
        for rep in range(args.reps):
            order = list(LISTENERS)
            random.shuffle(order)
            for name in order:
                p50, p99, rate, errors = _round(postfix.ports[name], args.connections, args.messages)
                if errors:
                    print(f"bench: {name}: {len(errors)} error(s), first: {errors[0]}", file=sys.stderr)
                    return 1
                results[name].append((p50, p99, rate))
                print(f"rep {rep + 1} {name:26s} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  {rate:6.0f} msg/s",
                      file=sys.stderr)
        for daemon in daemons:
            if "Traceback (most recent call last)" in daemon.stderr():
                print(f"bench: {daemon.stderr_path} has a traceback", file=sys.stderr)
                return 1
    finally:
        if postfix is not None:
            postfix.stop()
        for daemon in daemons:
            daemon.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.platform()}, "
          f"Python {platform.python_version()}")
    print(f"Command: scripts/bench_postfix.py --reps {args.reps} --messages {args.messages} "
          f"--connections {args.connections}")
    print(f"{args.connections} concurrent SMTP sessions x {args.messages} messages ({SAMPLE.name}, "
          f"{len(_message(0))} bytes) per round; medians of {args.reps} rounds\n")
    print("| listener | p50 latency | p99 latency | messages/s |")
    print("|---|---:|---:|---:|")
    for name in LISTENERS:
        rows = results[name]
        p50 = statistics.median(r[0] for r in rows)
        p99 = statistics.median(r[1] for r in rows)
        rate = statistics.median(r[2] for r in rows)
        print(f"| {name} | {p50:.1f} ms | {p99:.1f} ms | {rate:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
