"""The rules in the engine: policy effects, reload, file watching, explain, counters, GTUBE."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from postwarden.cli import main
from postwarden.config import Config, ConfigError, GtubeSettings, RulesSettings
from postwarden.engine import Engine
from postwarden.gtube import GTUBE, GtubeCheck, gtube_string
from postwarden.rules.check import RulesCheck, build_rules_check
from postwarden.rules.counters import RULE_HITS, HitCounter
from postwarden.rules.model import Rule, RuleSet
from postwarden.rules.watch import RulesWatcher, fingerprint, watch_runtime
from postwarden.runtime import Runtime, build_bundle
from postwarden.transaction import transaction_from_bytes
from postwarden.verdict import Action
from tests.unit.rules.helpers import MZ, evaluate, make

EXE = make({"From": "partner@partner.example"}, attachments=[("tool.exe", "application/octet-stream", MZ)])
LOCAL_RULES = """rules:
  - id: PARTNER_ALLOWLIST
    description: our partner sends tools
    direction: inbound
    action: accept
    score: 0
    match:
      from_domain: {in: [partner.example]}
  - id: TRY_NEW_RULE
    description: candidate rule, watched before it counts
    shadow: true
    score: 50
    action: reject
    reply: Should never be sent
    match:
      subject: {contains: lunch}
  - id: NO_WIDGETS
    description: widgets are refused
    direction: inbound
    action: reject
    reply: We do not accept widget offers here
    match:
      subject: {contains: widgets}
"""


def decide(engine: Engine, raw: bytes, client_ip: str = "192.0.2.10"):  # type: ignore[no-untyped-def]
    txn = transaction_from_bytes(raw)
    txn.client_ip = client_ip
    return engine.decide(txn)


def rules_engine(config: Config) -> Engine:
    """An engine with the rules as its only check, so other layers' scores cannot interfere."""
    return Engine(config, checks=[build_rules_check(config)])


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "10-site.yaml").write_text(LOCAL_RULES)
    return rules_engine(Config(rules=RulesSettings(local_directory=str(tmp_path / "local"))))


def test_a_rule_reply_is_the_smtp_text(engine: Engine) -> None:
    verdict = decide(engine, make({"Subject": "cheap widgets"}))
    assert (verdict.action, verdict.smtp_code, verdict.smtp_text) == (
        Action.REJECT,
        "550",
        "We do not accept widget offers here",
    )


def test_an_allowlist_rule_beats_a_reject_rule(engine: Engine) -> None:
    verdict = decide(engine, EXE)
    ids = [r.id for r in verdict.reasons]
    assert "EXECUTABLE_ATTACHMENT" in ids and "PARTNER_ALLOWLIST" in ids
    assert (verdict.action, verdict.label) == (Action.ACCEPT, "allowlisted")
    assert (
        decide(engine, make(attachments=[("tool.exe", "application/octet-stream", MZ)])).action
        is Action.REJECT
    )


def test_a_shadow_rule_changes_nothing_but_is_reported(engine: Engine) -> None:
    verdict = decide(engine, make())
    assert (verdict.action, verdict.score, verdict.label) == (Action.ACCEPT, 0.0, "ham")
    assert "TRY_NEW_RULE=50.00(shadow)" in dict(verdict.headers)["X-Postwarden-Reasons"]


def test_bad_rules_refuse_the_engine(tmp_path: Path) -> None:
    (tmp_path / "10-bad.yaml").write_text(
        "rules:\n  - id: X\n    description: d\n    score: 1\n    match: {subjct: {contains: a}}\n"
    )
    with pytest.raises(ConfigError, match=r"10-bad.yaml:5: rule X: match.subjct: unknown matcher"):
        Engine(Config(rules=RulesSettings(directory=str(tmp_path))))


def _runtime(tmp_path: Path, watch: bool = False) -> tuple[Runtime, Path]:
    rules = tmp_path / "rules"
    rules.mkdir(parents=True)
    (rules / "10-site.yaml").write_text(LOCAL_RULES)
    config = tmp_path / "postwarden.yaml"
    config.write_text(
        f"rules:\n  directory: {rules}\n  watch: {str(watch).lower()}\n  watch_interval: 0.05\n"
    )
    return Runtime(config, build_bundle(config)), rules


def test_a_reload_with_a_broken_rules_file_keeps_the_old_rules(tmp_path: Path) -> None:
    runtime, rules = _runtime(tmp_path)
    before = runtime.current
    (rules / "10-site.yaml").write_text(
        LOCAL_RULES.replace("subject: {contains: widgets}", "subject: {regex: '(widgets'}")
    )
    ok, message = runtime.reload()
    assert (
        not ok and "10-site.yaml:23: rule NO_WIDGETS: match.subject.regex: regex does not compile" in message
    )
    assert runtime.current is before
    assert decide(runtime.current.engine, make({"Subject": "widgets"})).action is Action.REJECT
    (rules / "10-site.yaml").write_text(LOCAL_RULES.replace("widgets}", "gadgets}"))
    assert runtime.reload()[0]
    assert decide(runtime.current.engine, make({"Subject": "widgets"})).action is Action.ACCEPT
    # a message that started with the old bundle finishes with it
    assert decide(before.engine, make({"Subject": "widgets"})).action is Action.REJECT


def test_an_atomic_replace_of_a_rules_file_reloads(tmp_path: Path) -> None:
    runtime, rules = _runtime(tmp_path)
    watcher = RulesWatcher(lambda: [rules], runtime.reload, 60)
    watcher._last = fingerprint([rules])
    assert watcher.poll() is False
    new = rules / ".10-site.yaml.tmp"
    new.write_text(LOCAL_RULES.replace("widgets}", "gadgets}"))
    os.replace(new, rules / "10-site.yaml")
    assert watcher.poll() is True
    assert decide(runtime.current.engine, make({"Subject": "gadgets"})).action is Action.REJECT
    assert runtime.current.generation == 1


def test_the_watch_thread_follows_the_configuration(tmp_path: Path) -> None:
    runtime, rules = _runtime(tmp_path, watch=True)
    watcher = watch_runtime(runtime)
    assert watcher is not None
    try:
        (rules / "20-more.yaml").write_text(LOCAL_RULES.replace("id: ", "id: MORE_"))
        for _ in range(100):
            if runtime.current.generation:
                break
            time.sleep(0.02)
        assert runtime.current.generation == 1
        assert any(
            r.id == "MORE_NO_WIDGETS"
            for c in runtime.current.engine.checks
            if isinstance(c, RulesCheck)
            for r in c.rules
        )
    finally:
        watcher.stop()
    off, _ = _runtime(tmp_path / "off")
    assert watch_runtime(off) is None


def test_scan_explain_lists_hits_in_evaluation_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(
        make(
            {"Message-ID": None, "From": '"it@example.org" <x@evil.example>'},
            text="http://198.51.100.7/login",
        )
    )
    assert main(["scan", "--explain", str(message)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{message}: ")
    rule_lines = [line for line in lines[1:] if line.split()[0] == "rule"]
    ids = [line.split()[1] for line in rule_lines]
    assert ids == ["URL_IP_LITERAL", "FROM_NAME_HAS_OTHER_ADDRESS", "MISSING_MESSAGE_ID"]
    assert "20-links.yaml:11" in rule_lines[0] and "+3.00" in rule_lines[0]
    assert "url_ip_literal=198.51.100.7" in rule_lines[0]
    assert main(["scan", "--explain", "--json", str(message)]) == 0
    data = json.loads(capsys.readouterr().out)
    explained = [e for e in data["explain"] if e["kind"] == "rule"]
    assert [e["id"] for e in explained] == ids and explained[0]["where"].endswith("20-links.yaml:11")


def test_hits_are_counted_per_rule_id(engine: Engine) -> None:
    before = RULE_HITS.get("NO_WIDGETS")
    decide(engine, make({"Subject": "widgets"}))
    decide(engine, make({"Subject": "widgets again"}))
    decide(engine, make())
    assert RULE_HITS.get("NO_WIDGETS") == before + 2
    assert RULE_HITS.snapshot()["NO_WIDGETS"] == before + 2


def test_a_failing_rule_is_reported_and_the_others_still_run() -> None:
    def broken(facts: object) -> str | None:
        raise ZeroDivisionError("boom")

    check = RulesCheck(
        RuleSet(rules=[Rule("BROKEN", "d", broken, score=1), Rule("FINE", "d", lambda f: "yes", score=2)]),
        counter=HitCounter(),
    )
    hits = evaluate(check, make())
    assert [(h.id, h.score) for h in hits] == [("RULE_ERROR", 0.0), ("FINE", 2.0)]
    assert "BROKEN: ZeroDivisionError: boom" in hits[0].detail


@pytest.mark.parametrize("action", [Action.REJECT, Action.QUARANTINE, Action.TEMPFAIL, Action.DISCARD])
def test_gtube_variants_come_from_the_pack_once(action: Action) -> None:
    engine = Engine(Config())
    assert not any(isinstance(c, GtubeCheck) for c in engine.checks)
    verdict = decide(engine, make(text=gtube_string(action)))
    assert verdict.action is action
    assert sum(r.id.startswith("GTUBE") for r in verdict.reasons) == 1


def test_gtube_disabled_or_rules_disabled() -> None:
    off = Engine(Config(gtube=GtubeSettings(enabled=False)))
    assert decide(off, make(text=GTUBE)).action is Action.ACCEPT
    builtin = Engine(Config(rules=RulesSettings(enabled=False)))
    assert GtubeCheck in [type(c) for c in builtin.checks]
    assert not any(isinstance(c, RulesCheck) for c in builtin.checks)
    verdict = decide(builtin, make(text=GTUBE))
    assert (
        verdict.action is Action.REJECT
        and verdict.smtp_text == "GTUBE test message: rejected as the test asks"
    )
