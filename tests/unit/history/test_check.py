"""Stories of the misdirection check through the engine: what a sender sees, what is learned."""

from __future__ import annotations

import json
import sqlite3
import time
from email.utils import formatdate

import pytest

from postwarden.cli import main
from postwarden.config import ConfigError, load_config
from postwarden.engine import Engine
from postwarden.misdirection.check import RecipientHistoryCheck
from postwarden.misdirection.history import SENDER_BUCKETS
from postwarden.stores.sqlite import SqliteStore
from postwarden.verdict import Action

from .helpers import SECRET, config_file, engine, message, teach


def _check(eng: Engine) -> RecipientHistoryCheck:
    return next(c for c in eng.checks if isinstance(c, RecipientHistoryCheck))


def _contact_count(eng: Engine, sender: str, rcpt: str) -> int:
    history = _check(eng).history
    s, r = history.tok("a", sender), history.tok("a", rcpt)
    entry = history.store.counters([("c:" + s, r)]).get(("c:" + s, r))
    return entry.count if entry else 0


def test_a_typo_of_a_frequent_contact_is_rejected_naming_both_and_how_to_send_anyway(tmp_path):
    eng = engine(tmp_path)
    teach(eng)
    verdict = eng.decide(message(["jon.smith@acme.com"], "Contract 99", "John, the signed contract."))
    assert verdict.action is Action.REJECT
    assert (verdict.smtp_code, verdict.smtp_xcode) == ("550", "5.7.1")
    assert "jon.smith@acme.com" in verdict.smtp_text
    assert "john.smith@acme.com" in verdict.smtp_text  # named although the store is hashed
    assert "again within 60 minutes" in verdict.smtp_text and "[send anyway]" in verdict.smtp_text
    recipients = [r for r in verdict.reasons if r.kind == "recipient"]
    assert [r.id for r in recipients] == ["RCPT_MISDIRECTED"]


def test_a_lookalike_domain_is_rejected(tmp_path):
    eng = engine(tmp_path)
    teach(eng)
    verdict = eng.decide(message(["mary.jones@acrne.com"], "Meeting 99", "Mary, the agenda."))
    assert verdict.action is Action.REJECT
    assert "mary.jones@acrne.com" in verdict.smtp_text and "mary.jones@acme.com" in verdict.smtp_text


@pytest.mark.parametrize("wrong", ["mary.jones@acme.net", "mary.jones@acme.co.uk"])
def test_a_contact_at_another_public_suffix_is_rejected_naming_the_contact(tmp_path, wrong):
    """acme.net is three letters from acme.com, no single edit: found by the domain's stem and by
    Mary's local part being a contact's at the domain it resembles."""
    eng = engine(tmp_path)
    teach(eng)
    verdict = eng.decide(message([wrong], "Meeting 99", "Mary, the agenda."))
    assert verdict.action is Action.REJECT
    assert wrong in verdict.smtp_text and "mary.jones@acme.com" in verdict.smtp_text
    assert "at a lookalike domain" in verdict.smtp_text


def test_mail_to_known_contacts_passes_and_is_learned(tmp_path):
    eng = engine(tmp_path)
    teach(eng)
    before = _contact_count(eng, "alice@example.com", "john.smith@acme.com")
    verdict = eng.decide(message(["john.smith@acme.com", "mary.jones@acme.com"], "Meeting 100",
                                 "Mary and John, the meeting agenda."))
    assert verdict.action is Action.ACCEPT
    assert {r.id for r in verdict.reasons if r.kind == "recipient"} == {"RCPT_OK"}
    assert _contact_count(eng, "alice@example.com", "john.smith@acme.com") == before + 1


def test_sending_the_same_message_again_within_the_window_sends_it_and_learns_the_recipient(tmp_path):
    eng = engine(tmp_path)
    teach(eng)
    typo = message(["jon.smith@acme.com"], "Contract 99", "John, the signed contract.")
    assert eng.decide(typo).action is Action.REJECT
    again = eng.decide(message(["jon.smith@acme.com"], "Contract 99", "John, the signed contract."))
    assert again.action is Action.ACCEPT
    assert any(r.id == "MISDIRECTION_CONFIRMED" for r in again.reasons)
    assert _contact_count(eng, "alice@example.com", "jon.smith@acme.com") == 1


def test_a_different_message_to_the_same_typo_is_still_stopped(tmp_path):
    eng = engine(tmp_path)
    teach(eng)
    assert eng.decide(message(["jon.smith@acme.com"], "Contract 99")).action is Action.REJECT
    assert eng.decide(message(["jon.smith@acme.com"], "Another subject")).action is Action.REJECT


def test_the_confirmation_marker_sends_anyway(tmp_path):
    eng = engine(tmp_path)
    teach(eng)
    verdict = eng.decide(message(["jon.smith@acme.com"], "Contract 99 [send anyway]"))
    assert verdict.action is Action.ACCEPT
    assert any(r.id == "MISDIRECTION_CONFIRMED" for r in verdict.reasons)


def test_inbound_mail_is_never_scored(tmp_path):
    eng = engine(tmp_path)
    teach(eng)
    inbound = message(["jon.smith@acme.com"], auth=None, ip="192.0.2.1")
    verdict = eng.decide(inbound)
    assert verdict.direction == "inbound" and verdict.action is Action.ACCEPT
    assert not [r for r in verdict.reasons if r.kind == "recipient" or "MISDIRECT" in r.id]


def test_shadow_mode_scores_and_logs_but_delivers(tmp_path):
    eng = engine(tmp_path, "  shadow: true\n")
    teach(eng)
    verdict = eng.decide(message(["jon.smith@acme.com"], "Contract 99"))
    assert verdict.action is Action.ACCEPT
    assert any(r.id == "MISDIRECTED_RECIPIENT" and r.shadow for r in verdict.reasons)


def test_quarantine_instead_of_reject(tmp_path):
    """Held, the message says why: misdirected, not spam (what an operator reviewing the hold
    queue reads in X-Postwarden-Status)."""
    eng = engine(tmp_path, "  action: quarantine\n")
    teach(eng)
    verdict = eng.decide(message(["jon.smith@acme.com"], "Contract 99"))
    assert verdict.action is Action.QUARANTINE and verdict.label == "misdirected"
    assert ("X-Postwarden-Status", "misdirected score=0.00 direction=outbound") in verdict.headers


def test_a_sender_without_enough_history_is_not_scored(tmp_path):
    eng = engine(tmp_path)
    verdict = eng.decide(message(["jon.smith@acme.com"]))
    assert verdict.action is Action.ACCEPT
    assert [r.id for r in verdict.reasons if r.kind == "recipient"] == ["RCPT_HISTORY_TOO_SHORT"]


def test_an_engine_that_does_not_learn_changes_nothing(tmp_path):
    teach(engine(tmp_path))
    offline = engine(tmp_path, learn=False)
    assert offline.decide(message(["jon.smith@acme.com"], "Contract 99")).action is Action.REJECT
    assert offline.decide(message(["jon.smith@acme.com"], "Contract 99")).action is Action.REJECT
    assert _contact_count(offline, "alice@example.com", "john.smith@acme.com") == 24


def test_a_failing_store_never_changes_the_verdict_of_learning(tmp_path, monkeypatch):
    eng = engine(tmp_path)
    teach(eng)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(_check(eng).history, "learn", broken)
    verdict = eng.decide(message(["john.smith@acme.com"], "Contract 100", "John, the contract."))
    assert verdict.action is Action.ACCEPT


def test_the_hashed_store_holds_no_address_in_clear(tmp_path):
    eng = engine(tmp_path)
    teach(eng)
    _check(eng).store.close()
    data = (tmp_path / "history.sqlite").read_bytes()
    wal = tmp_path / "history.sqlite-wal"
    data += wal.read_bytes() if wal.exists() else b""
    for clear in (b"john.smith", b"acme.com", b"alice@example.com", b"mary"):
        assert clear not in data


def test_hashed_mode_without_a_secret_is_refused(tmp_path):
    path = config_file(tmp_path).read_text().replace(f"  secret: {SECRET}\n", "")
    (tmp_path / "p.yaml").write_text(path)
    with pytest.raises(ConfigError, match="site secret"):
        Engine(load_config(tmp_path / "p.yaml"))


def test_a_threshold_out_of_range_is_a_located_error(tmp_path):
    (tmp_path / "p.yaml").write_text("recipient_history:\n  threshold: 1.5\n")
    with pytest.raises(ConfigError, match=r"p.yaml:2: recipient_history.threshold: expected a number"):
        load_config(tmp_path / "p.yaml")


def test_scan_json_reports_every_recipient_with_its_score_and_reasons(tmp_path, capsys):
    teach(engine(tmp_path))
    eml = tmp_path / "out.eml"
    eml.write_bytes(b"From: alice@example.com\r\nTo: john.smith@acme.com, jon.smith@acme.com\r\n"
                    b"Subject: Contract 7\r\n\r\nJohn, the contract.\r\n")
    assert main(["scan", "-c", str(config_file(tmp_path)), "--json", "--auth-user", "alice", str(eml)]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[0])
    recipients = [r for r in out["reasons"] if r["kind"] == "recipient"]
    assert [r["id"] for r in recipients] == ["RCPT_OK", "RCPT_MISDIRECTED"]
    assert recipients[0]["detail"].startswith("john.smith@acme.com p=")
    assert "near_contact" in recipients[1]["detail"]
    assert out["action"] == "reject"


def test_history_import_bootstraps_from_a_sent_mbox(tmp_path, capsys):
    mbox = tmp_path / "sent.mbox"
    parts = []
    for i in range(12):
        parts.append(f"From alice@example.com Tue Dec  1 10:00:00 2026\nFrom: alice@example.com\n"
                     f"To: john.smith@acme.com\nSubject: s{i}\nDate: Tue, 1 Dec 2026 10:{i:02d}:00 +0000\n\n"
                     f"John, item {i}.\n\n")
    mbox.write_text("".join(parts))
    config = config_file(tmp_path)
    assert main(["history", "import", "-c", str(config), str(mbox)]) == 0
    assert "learned 12 message(s) from 1 sender(s)" in capsys.readouterr().out
    eng = Engine(load_config(config))
    assert eng.decide(message(["jon.smith@acme.com"], "New")).action is Action.REJECT
    assert eng.decide(message(["john.smith@acme.com"], "New", "John, item 13.")).action is Action.ACCEPT


def test_the_same_sent_mail_imported_twice_is_learned_once(tmp_path, capsys):
    """Operators import a Sent folder, then an archive that holds it too, or run the import
    again: a message counted twice would make every contact look twice as frequent."""
    mbox = tmp_path / "sent.mbox"
    mbox.write_text("".join(
        f"From alice@example.com Tue Dec  1 10:00:00 2026\nFrom: alice@example.com\n"
        f"To: john.smith@acme.com\nSubject: s{i}\nMessage-ID: <m{i}@example.com>\n"
        f"Date: Tue, 1 Dec 2026 10:{i:02d}:00 +0000\n\nJohn, item {i}.\n\n" for i in range(12)))
    copy = tmp_path / "archive"
    copy.mkdir()
    (copy / "sent.mbox").write_bytes(mbox.read_bytes())
    config = config_file(tmp_path)
    assert main(["history", "import", "-c", str(config), str(mbox), str(copy)]) == 0
    assert "learned 12 message(s) from 1 sender(s), skipped 12 already learned" in capsys.readouterr().out
    assert main(["history", "import", "-c", str(config), str(mbox)]) == 0
    assert "learned 0 message(s) from 0 sender(s), skipped 12 already learned" in capsys.readouterr().out
    assert _contact_count(Engine(load_config(config)), "alice@example.com", "john.smith@acme.com") == 12


def test_importing_a_sent_folder_after_the_daemon_ran_counts_what_it_learned_once(tmp_path, capsys):
    """The Sent folder holds the copies of what the daemon already learned as it passed (the same
    Message-ID, other bytes): an import after going live must not count those contacts twice."""
    config = config_file(tmp_path)
    live = Engine(load_config(config), learn=True)
    for i in range(3):
        assert live.decide(message(["john.smith@acme.com"], f"s{i}", f"John, item {i}.",
                                   message_id=f"<M{i}@Example.com>")).action is Action.ACCEPT
    live.decide(message(["john.smith@acme.com"], "no id", "John, no Message-ID."))
    mbox = tmp_path / "sent.mbox"
    mbox.write_text("".join(
        f"From alice@example.com Tue Dec  1 10:00:00 2026\nFrom: alice@example.com\n"
        f"To: john.smith@acme.com\nSubject: s{i}\nMessage-ID: <m{i}@example.com>\n"
        f"Date: Tue, 1 Dec 2026 10:{i:02d}:00 +0000\n\nJohn, item {i}.\n\n" for i in range(5)))
    assert main(["history", "import", "-c", str(config), str(mbox)]) == 0
    assert "learned 2 message(s) from 1 sender(s), skipped 3 already learned" in capsys.readouterr().out
    assert _contact_count(Engine(load_config(config)), "alice@example.com", "john.smith@acme.com") == 6


def test_an_import_the_store_stops_tells_so_and_a_rerun_goes_on(tmp_path, capsys, monkeypatch):
    """A store that fails half-way (a locked or full disk) ends the import with a line, not a
    traceback; what it learned is kept and marked, so the same import run again finishes it."""
    mbox = tmp_path / "sent.mbox"
    mbox.write_text("".join(
        f"From alice@example.com Tue Dec  1 10:00:00 2026\nFrom: alice@example.com\n"
        f"To: john.smith@acme.com\nSubject: s{i}\nMessage-ID: <m{i}@example.com>\n"
        f"Date: {formatdate(time.time() - 86400 + i * 60)}\n\nJohn, item {i}.\n\n" for i in range(700)))
    config = config_file(tmp_path)
    real_put, calls = SqliteStore.put, []

    def failing_put(self, items, at):
        calls.append(at)
        if len(calls) == 600:
            raise sqlite3.OperationalError("database or disk is full")
        return real_put(self, items, at)

    monkeypatch.setattr(SqliteStore, "put", failing_put)
    assert main(["history", "import", "-c", str(config), str(mbox)]) == 1
    assert "import stopped: database or disk is full" in capsys.readouterr().err
    monkeypatch.setattr(SqliteStore, "put", real_put)
    assert main(["history", "import", "-c", str(config), str(mbox)]) == 0
    assert "learned 200 message(s) from 1 sender(s), skipped 500 already learned" in capsys.readouterr().out
    assert _contact_count(Engine(load_config(config)), "alice@example.com", "john.smith@acme.com") == 700


def test_history_purge_deletes_what_the_horizon_forgot_and_keeps_the_rest(tmp_path, capsys):
    """The SQLite store never deletes on its own: a contact last written to three years ago
    stays on disk until `history purge`, which removes it and keeps this year's."""
    now = time.time()
    dates = (("old.friend@acme.com", now - 3 * 365 * 86400), ("john.smith@acme.com", now - 86400))
    mbox = tmp_path / "sent.mbox"
    mbox.write_text("".join(
        f"From alice@example.com Tue Dec  1 10:00:00 2026\nFrom: alice@example.com\nTo: {rcpt}\n"
        f"Subject: s{i}\nMessage-ID: <{i}.{rcpt}>\nDate: {formatdate(when + i * 60)}\n\nHello, item {i}.\n\n"
        for rcpt, when in dates for i in range(3)))
    config = config_file(tmp_path)
    assert main(["history", "import", "-c", str(config), str(mbox)]) == 0
    capsys.readouterr()
    eng = Engine(load_config(config))
    assert _contact_count(eng, "alice@example.com", "old.friend@acme.com") == 3
    assert main(["history", "purge", "-c", str(config)]) == 0
    out = capsys.readouterr().out
    assert "(730 days)" in out and "purged 0 " not in out
    assert _contact_count(eng, "alice@example.com", "old.friend@acme.com") == 0
    assert _contact_count(eng, "alice@example.com", "john.smith@acme.com") == 3
    assert main(["history", "purge", "-c", str(config), "--older-than", "0"]) == 2
    assert "--older-than must be more than 0 days" in capsys.readouterr().err


def test_history_forget_deletes_everything_kept_for_a_sender_and_nothing_else(tmp_path, capsys):
    """A compromised account's spam run taught the history thousands of "contacts", or the user
    left: `history forget` starts the sender over. Another sender's history is untouched."""
    config = config_file(tmp_path)
    eng = Engine(load_config(config), learn=True)
    teach(eng)
    for i in range(12):
        eng.decide(message(["john.smith@acme.com"], f"Hi {i}", "John, hi.", sender="bob@example.com",
                           auth="bob", message_id=f"<b{i}@example.com>"))
    eng.decide(message(["john.smith@acme.com"], "Contract 13", "John, the draft.",
                       message_id="<a13@example.com>"))
    assert eng.decide(message(["jon.smith@acme.com"], "Contract 99")).action is Action.REJECT  # a mark
    eng.decide(message(["john.doe@acme.com"], "Budget [send anyway]", "John, the budget."))  # a runner-up
    history = _check(eng).history
    alice = history.tok("a", "alice@example.com")
    kept = {row[0] for row in history.store.export() if row[0].endswith(alice)}
    assert kept == {b + alice for b in SENDER_BUCKETS}  # every kind of entry, so each is seen to go
    assert main(["history", "forget", "-c", str(config), "Alice@Example.com"]) == 0
    assert "forgot " in capsys.readouterr().out
    assert main(["history", "forget", "-c", str(config), "alice@example.com"]) == 1  # a typo shows
    assert "keeps nothing for alice@example.com" in capsys.readouterr().err
    assert not [row for row in history.store.export() if alice in row[0] or row[1] == alice]
    assert _contact_count(eng, "alice@example.com", "john.smith@acme.com") == 0
    assert _contact_count(eng, "bob@example.com", "john.smith@acme.com") == 12
    verdict = eng.decide(message(["jon.smith@acme.com"], "Contract 99", "John, the signed contract."))
    assert verdict.action is Action.ACCEPT
    assert any(r.id == "RCPT_HISTORY_TOO_SHORT" for r in verdict.reasons)


@pytest.mark.redis
def test_two_milter_nodes_share_one_redis_history(tmp_path, redis_url):
    """Node B stops a typo it never saw Alice's mail for, then lets her send it anyway."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    node_a = engine(tmp_path / "a", store="redis", redis_url=redis_url)
    teach(node_a)
    config = config_file(tmp_path / "a", store="redis", redis_url=redis_url).read_text()
    (tmp_path / "b" / "postwarden.yaml").write_text(config)
    node_b = Engine(load_config(tmp_path / "b" / "postwarden.yaml"), learn=True)
    assert node_b.decide(message(["jon.smith@acme.com"], "Contract 99")).action is Action.REJECT
    assert node_b.decide(message(["jon.smith@acme.com"], "Contract 99")).action is Action.ACCEPT
    assert _contact_count(node_a, "alice@example.com", "jon.smith@acme.com") == 1


def test_a_recipient_domain_that_does_not_exist_is_stopped_by_the_configured_resolver(tmp_path):
    """``mx_nameservers``/``mx_port`` send the MX look-ups to the site's resolver (here a stub
    on loopback that knows no domain): a new recipient at a domain that does not exist is
    stopped, whatever the trees say of it."""
    from tests.unit.rules.dnsstub import StubDns

    stub = StubDns()
    try:
        config = config_file(tmp_path)
        config.write_text(config.read_text().replace(
            "check_mx: false", f"check_mx: true\n  mx_nameservers: [127.0.0.1]\n  mx_port: {stub.port}"))
        eng = Engine(load_config(config), learn=True)
        teach(eng)
        verdict = eng.decide(message(["john.smith@acme.com", "pat@no-such-domain.example"], "Contract 99"))
        assert verdict.action is Action.REJECT
        assert "pat@no-such-domain.example" in verdict.smtp_text
        assert "no-such-domain.example" in stub.queries
    finally:
        stub.close()


def test_a_typo_of_a_contact_written_to_for_years_is_still_stopped(tmp_path, capsys):
    """The index that finds a typo's contact is rewritten when a count doubles; a contact written
    to weekly for three years doubles its count rarely, and an index entry older than the
    horizon counts for nothing: it must be kept fresh while the contact is in use."""
    now = time.time()
    days = [1095 - 2.8 * i for i in range(130)] + [1095 - 364 - 10 * i for i in range(70)]
    mbox = tmp_path / "sent.mbox"
    mbox.write_text("".join(
        f"From alice@example.com Tue Dec  1 10:00:00 2026\nFrom: alice@example.com\n"
        f"To: john.smith@acme.com\nSubject: s{i}\nMessage-ID: <{i}@example.com>\n"
        f"Date: {formatdate(now - ago * 86400)}\n\nJohn, item {i}.\n\n" for i, ago in enumerate(days)))
    config = config_file(tmp_path)
    assert main(["history", "import", "-c", str(config), str(mbox)]) == 0
    verdict = Engine(load_config(config)).decide(message(["jon.smith@acme.com"], "New", "John, item 200."))
    assert verdict.action is Action.REJECT
    assert "john.smith@acme.com" in verdict.smtp_text
