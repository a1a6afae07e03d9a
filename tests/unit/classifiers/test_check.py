from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import joblib
import pytest

from postwarden.classifiers.features import FEATURISER_VERSION
from postwarden.classifiers.model_file import TextModel
from postwarden.classifiers.text_check import TextModelCheck, build_text_check, enough_text, head_score
from postwarden.config import Config, ConfigError, ModelSettings
from postwarden.engine import Engine
from postwarden.message import parse_message
from postwarden.transaction import transaction_from_bytes

from .samples import HAM_SAMPLES, SPAM_SAMPLES, SPAM_WORDS, synthetic_corpus


def _engine(model: TextModel, **settings: object) -> Engine:
    config = Config()
    models = replace(config.models, **settings)
    return Engine(replace(config, models=models), checks=[TextModelCheck(model, models)])


def test_spam_gets_score_and_reasons_naming_features(small_model: TextModel) -> None:
    spam = synthetic_corpus(2, seed=5)["spam"][0]
    verdict = _engine(small_model).decide(transaction_from_bytes(spam))
    reason = next(r for r in verdict.reasons if r.id == "MODEL_SPAM")
    assert reason.kind == "model" and 6.0 <= reason.score <= 12.0
    assert "model=synthetic-1" in reason.detail and "top: " in reason.detail
    named = [item.rsplit("+", 1)[0] for item in reason.detail.split("top: ", 1)[1].split(" ")]
    # only words and link parts that spam in the training mail has and ham does not
    spam_side = {f"w:{w}" for w in SPAM_WORDS} | {"w:deals", "w:biz", "ud:example.biz", "ut:biz"}
    assert named and any(name in spam_side for name in named)
    assert verdict.score >= Config().thresholds.tag


def test_ham_adds_nothing(small_model: TextModel) -> None:
    for raw in synthetic_corpus(5, seed=11)["ham"]:
        verdict = _engine(small_model).decide(transaction_from_bytes(raw))
        assert not [r for r in verdict.reasons if r.kind == "model"]


def test_outbound_is_skipped_unless_configured(small_model: TextModel) -> None:
    spam = synthetic_corpus(2, seed=5)["spam"][0]
    txn = transaction_from_bytes(spam)
    txn.auth_user = "alice"
    assert not [r for r in _engine(small_model).decide(txn).reasons if r.kind == "model"]
    assert [r for r in _engine(small_model, outbound=True).decide(txn).reasons if r.kind == "model"]


def test_configured_threshold_overrides_the_model(small_model: TextModel) -> None:
    spam = synthetic_corpus(2, seed=5)["spam"][0]
    verdict = _engine(small_model, spam_threshold=0.9999999, phish_threshold=0.9999999).decide(
        transaction_from_bytes(spam))
    assert not [r for r in verdict.reasons if r.kind == "model"]


def test_content_free_mail_is_not_judged(small_model: TextModel) -> None:
    garbage = bytes(range(256)) * 64  # no headers, no words: nothing for a text model
    ctx_engine = _engine(small_model)
    verdict = ctx_engine.decide(transaction_from_bytes(garbage))
    assert not [r for r in verdict.reasons if r.kind == "model"]
    short = b"From: a@example.biz\nSubject: hi\n\nfree!!! $$$\n"
    assert not enough_text(parse_message(short))
    assert enough_text(parse_message(short + b"http://deals.example.biz/\n"))


@pytest.mark.parametrize(("p", "expected"), [(0.2, 0.0), (0.5, 6.0), (0.75, 9.0), (1.0, 12.0)])
def test_probability_to_score(p: float, expected: float) -> None:
    assert head_score(p, 0.5, 6.0, 12.0) == pytest.approx(expected)


def test_shipped_model_loads_and_leaves_ordinary_mail_alone() -> None:
    check = build_text_check(ModelSettings(directory="/nonexistent/postwarden-models"))
    assert check.model.version.startswith("default")
    engine = Engine(Config(), checks=[check])
    for raw in HAM_SAMPLES:
        assert not [r for r in engine.decide(transaction_from_bytes(raw)).reasons if r.kind == "model"]


def test_missing_version_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such model file"):
        build_text_check(ModelSettings(directory=str(tmp_path), version="nope-1"))


def _outdated_version(directory: Path, model: TextModel, name: str) -> Path:
    """A version as an older postwarden wrote it: sound, but made by another featuriser."""
    path = model.save(directory / f"{name}.joblib")
    payload = joblib.load(path)
    payload["version"] = name
    payload["featuriser"]["version"] = FEATURISER_VERSION - 1
    joblib.dump(payload, path)
    return path


def test_an_upgrade_never_stops_the_filter_on_a_learned_version(tmp_path: Path, small_model: TextModel,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """After an upgrade, CURRENT names a version the old featuriser made: the daemon starts on
    the shipped model and says why, where refusing would have stopped mail filtering."""
    _outdated_version(tmp_path, small_model, "20261201-120000")
    (tmp_path / "CURRENT").write_text("20261201-120000\n")
    with caplog.at_level(logging.WARNING, logger="postwarden.models"):
        check = build_text_check(ModelSettings(directory=str(tmp_path)))
    assert check.model.version.startswith("default-")
    assert f"featuriser version {FEATURISER_VERSION - 1}" in caplog.text
    assert "names 20261201-120000, so the shipped default model is used" in caplog.text
    reasons = Engine(Config(), checks=[check]).decide(transaction_from_bytes(SPAM_SAMPLES[0])).reasons
    details = [r.detail for r in reasons if r.kind == "model"]
    assert details and all(f"model={check.model.version}" in d for d in details)
    with pytest.raises(ConfigError, match=f"featuriser version {FEATURISER_VERSION - 1}"):
        build_text_check(ModelSettings(directory=str(tmp_path), version="20261201-120000"))


def test_mail_in_another_language_is_judged_only_when_the_model_is_near_certain() -> None:
    """The shipped model learnt from English mail; for a French business message its
    probability is a guess. With a spam threshold of 0.01 the head would flag nearly anything:
    the French message is still not flagged unless the other-language threshold allows it."""
    from .test_language import PROSE, _message

    check = build_text_check(ModelSettings(directory="/nonexistent/postwarden-models"))
    french = transaction_from_bytes(_message(PROSE["fr"]))
    low = replace(check.settings, spam_threshold=0.01)
    verdict = Engine(Config(), checks=[TextModelCheck(check.model, low)]).decide(french)
    assert not [r for r in verdict.reasons if r.kind == "model"]
    allowed = replace(low, other_language_threshold=0.01)
    verdict = Engine(Config(), checks=[TextModelCheck(check.model, allowed)]).decide(french)
    (hit,) = [r for r in verdict.reasons if r.id == "MODEL_SPAM"]
    assert hit.detail.endswith("(not English)")
    english = transaction_from_bytes(SPAM_SAMPLES[0])
    verdict = Engine(Config(), checks=[TextModelCheck(check.model, low)]).decide(english)
    assert any(r.id == "MODEL_SPAM" for r in verdict.reasons)
