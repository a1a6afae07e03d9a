"""The operator's story: train, eval, learn from feedback, list and switch versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from postwarden.cli import main
from postwarden.message import parse_message

from .samples import SPAM_SAMPLES, _message, synthetic_corpus, write_mbox


@pytest.fixture(scope="module")
def mboxes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("mail")
    paths = {}
    for kind, messages in synthetic_corpus(100, seed=3).items():
        paths[kind] = directory / f"{kind}.mbox"
        write_mbox(paths[kind], messages)
    return paths


def test_train_then_eval_writes_report_and_plots(mboxes: dict[str, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.joblib"
    args = ["--ham", str(mboxes["ham"]), "--spam", str(mboxes["spam"]), "--phish", str(mboxes["phish"])]
    assert main(["train", *args, "-o", str(model), "--version", "cli-1", "--jobs", "1",
                 "--bits", "16", "--C", "1"]) == 0
    out = capsys.readouterr()
    assert "spam (validation)" in out.out and "wrote" in out.err
    assert model.stat().st_size < 5_000_000
    report, plots = tmp_path / "report.json", tmp_path / "plots"
    assert main(["eval", str(model), *args, "--json", str(report), "--plots", str(plots), "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "ROC AUC" in printed and "recall at FPR 0.1" in printed and "predicted+" in printed
    data = json.loads(report.read_text())
    assert data["model"] == "cli-1" and data["split"] == "test"
    spam = data["heads"]["spam"]
    assert spam["roc_auc"] > 0.99 and set(spam["confusion"]) == {"tp", "fn", "fp", "tn"}
    assert spam["positives"] + spam["negatives"] < 100  # the test split only
    assert {p.name for p in plots.iterdir()} == {"spam.png", "phish.png"}


def test_train_needs_both_classes(mboxes: dict[str, Path], tmp_path: Path) -> None:
    assert main(["train", "--ham", str(mboxes["ham"]), "-o", str(tmp_path / "m.joblib")]) == 2


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "postwarden.yaml"
    config.write_text(f"models:\n  directory: {tmp_path / 'models'}\n  learn_margin: 0.05\n")
    return config


def _newsletter(i: int) -> bytes:
    # Mail this site wants but that reads like marketing: the operator moves it to ham.
    return _message("Club News <news@club.example.com>", "Members offer: save 50% this weekend only!",
                    "Dear member, click here to order now and save 50 percent on all tickets. Limited "
                    "time offer, act now! http://club.example.com/offer", message_id=f"<news-{i}@club>")


def test_learn_from_moved_mail_then_switch_versions(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from postwarden.classifiers.model_store import ModelStore

    config = _config(tmp_path)
    moved = tmp_path / "moved.mbox"
    write_mbox(moved, [_newsletter(i) for i in range(40)])
    store = ModelStore(tmp_path / "models")
    before = store.load("current")
    p_before = before.score(parse_message(_newsletter(999)))["spam"].probability
    assert main(["learn", "-c", str(config), "--ham", str(moved), "--version", "site-1"]) == 0
    err = capsys.readouterr().err
    assert "version site-1 is current" in err
    # ham alone cannot show missed spam: the operator is told what would check it
    assert "more missed spam would go unnoticed; add --check-spam" in err
    assert "add --check-phish" in err and "add --check-ham" not in err
    after = store.load("current")
    assert after.version == "site-1" and after.info["parent"] == before.version
    assert after.score(parse_message(_newsletter(999)))["spam"].probability < p_before
    # the shipped model is untouched and still selectable: rollback
    assert main(["model", "-c", str(config), "list"]) == 0
    listing = capsys.readouterr().out
    assert "* site-1" in listing and "  default" in listing
    # what a reload builds picks up the switch
    from postwarden.classifiers.text_check import build_text_check
    from postwarden.config import load_config

    assert build_text_check(load_config(config).models).model.version == "site-1"
    assert main(["model", "-c", str(config), "use", "default"]) == 0
    assert store.load("current").version == before.version
    assert build_text_check(load_config(config).models).model.version == before.version
    assert main(["model", "-c", str(config), "use", "no-such-version"]) == 1


def test_moving_newsletters_to_ham_does_not_let_through_spam_that_borrows_their_words(
        tmp_path: Path) -> None:
    """A correction moves the weights only as far as the corrected mail needs (the margin of
    ``learning._update_head``); driven on to certainty, as with a log loss, the newsletters'
    words turned this spam into ham too (p 0.998 -> 0.29 with the shipped model)."""
    from postwarden.classifiers.model_store import ModelStore

    config = _config(tmp_path)
    moved = tmp_path / "moved.mbox"
    write_mbox(moved, [_newsletter(i) for i in range(40)])
    spam = parse_message(_message(
        "Deals <promo@deals-4u.example.biz>", "Save 50% this weekend only!",
        "Click here to order now and save 50 percent. Limited time offer, act now! Cheap pills, "
        "no prescription needed. http://deals-4u.example.biz/order"))
    store = ModelStore(tmp_path / "models")
    assert store.load("current").score(spam)["spam"].over
    assert main(["learn", "-c", str(config), "--ham", str(moved), "--version", "site-1"]) == 0
    after = store.load("current")
    assert not after.score(parse_message(_newsletter(999)))["spam"].over
    assert after.score(spam)["spam"].over


def test_spam_fed_back_is_flagged_at_the_threshold_the_operator_set(tmp_path: Path) -> None:
    """Corrections go a margin past the threshold the daemon uses: with spam_threshold raised to
    0.95, spam fed back must end up over 0.95, not only over the model's own 0.5."""
    from postwarden.classifiers.model_store import ModelStore

    config = tmp_path / "postwarden.yaml"
    config.write_text(f"models:\n  directory: {tmp_path / 'models'}\n  spam_threshold: 0.95\n")

    def offer(i: int) -> bytes:
        return _message("Garden Supplies <offers@garden-supplies.example.com>", "Spring catalogue",
                        "Our spring catalogue is here: seeds, tools and compost for your garden. Order "
                        "online before Friday. http://garden-supplies.example.com/catalogue",
                        message_id=f"<offer-{i}@garden>")

    moved = tmp_path / "junk.mbox"
    write_mbox(moved, [offer(i) for i in range(40)])
    store = ModelStore(tmp_path / "models")
    assert store.load("current").score(parse_message(offer(999)))["spam"].probability < 0.95
    assert main(["learn", "-c", str(config), "--spam", str(moved), "--version", "site-1"]) == 0
    assert store.load("current").score(parse_message(offer(999)))["spam"].probability >= 0.95


def test_learn_refuses_a_worse_version_unless_forced(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    poisoned, check = tmp_path / "poisoned.mbox", tmp_path / "check.mbox"
    # Real-looking spam labelled ham; the held-out check spam shows the damage.
    write_mbox(poisoned, [raw.replace(b"Subject: ", f"Message-ID: <p{i}-{j}@x>\nSubject: ".encode(), 1)
                          for i, raw in enumerate(SPAM_SAMPLES) for j in range(12)])
    write_mbox(check, SPAM_SAMPLES)
    args = ["learn", "-c", str(config), "--ham", str(poisoned), "--check-spam", str(check)]
    assert main([*args, "--version", "bad-1"]) == 1
    err = capsys.readouterr().err
    assert "refused" in err and "add --check-spam" not in err
    assert not (tmp_path / "models" / "bad-1.joblib").exists()
    assert main([*args, "--version", "bad-2", "--force"]) == 0
    assert (tmp_path / "models" / "bad-2.joblib").exists()


def test_after_an_upgrade_learn_starts_again_from_the_shipped_model(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An upgrade with a new featuriser leaves the learned versions and the feedback of the old
    one behind. Feedback keeps hashed features, not mail, so the old rows are dropped with a
    message saying so, never mixed into weights they do not belong to; the learned version is
    listed as unusable and learning starts from the shipped model."""
    import joblib

    from postwarden.classifiers.features import FEATURISER_VERSION
    from postwarden.classifiers.learning import FEEDBACK_FILE, load_feedback

    config = _config(tmp_path)
    moved = tmp_path / "moved.mbox"
    write_mbox(moved, [_newsletter(i) for i in range(40)])
    assert main(["learn", "-c", str(config), "--ham", str(moved), "--version", "site-1"]) == 0
    capsys.readouterr()
    models = tmp_path / "models"
    kept, dropped = load_feedback(models, FEATURISER_VERSION)
    assert len(kept) == 40 and dropped == 0
    stored = joblib.load(models / FEEDBACK_FILE)
    joblib.dump({**stored, "featuriser": FEATURISER_VERSION - 1}, models / FEEDBACK_FILE)
    learned = joblib.load(models / "site-1.joblib")
    learned["featuriser"]["version"] = FEATURISER_VERSION - 1
    joblib.dump(learned, models / "site-1.joblib")
    assert main(["model", "-c", str(config), "list"]) == 0
    assert f"site-1.joblib  (featuriser version {FEATURISER_VERSION - 1}" in capsys.readouterr().out
    more = tmp_path / "more.mbox"
    write_mbox(more, [_newsletter(1000 + i) for i in range(10)])
    assert main(["learn", "-c", str(config), "--ham", str(more), "--version", "site-2"]) == 0
    err = capsys.readouterr().err
    assert "40 earlier feedback message(s) dropped: an older featuriser" in err
    assert "names site-1, so the shipped default model is used" in err
    assert "learning from the shipped model" in err and "(previous: default-" in err
    assert len(load_feedback(models, FEATURISER_VERSION)[0]) == 10
    from postwarden.classifiers.model_store import ModelStore

    assert ModelStore(models).load("current").info["parent"].startswith("default-")
