from __future__ import annotations

from pathlib import Path

import joblib
import pytest

from postwarden.classifiers.model_file import FORMAT_VERSION, ModelError, TextModel, load_model
from postwarden.message import parse_message

from .samples import synthetic_corpus


def test_round_trip_scores_the_same(small_model: TextModel, tmp_path: Path) -> None:
    path = small_model.save(tmp_path / "m.joblib")
    loaded = load_model(path, [tmp_path])
    assert loaded.version == "synthetic-1"
    assert loaded.info["validation"]["spam"]["roc_auc"] > 0.99
    message = parse_message(synthetic_corpus(3, seed=99)["spam"][0])
    before, after = small_model.score(message), loaded.score(message)
    for head in ("spam", "phish"):
        assert after[head].probability == pytest.approx(before[head].probability, abs=1e-6)
        assert after[head].threshold == before[head].threshold


def test_untrusted_directory_is_refused(small_model: TextModel, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path = small_model.save(elsewhere / "m.joblib")
    with pytest.raises(ModelError, match="outside the trusted model directories"):
        load_model(path, [tmp_path / "models"])
    # a symlink inside the trusted directory that points out of it is refused too
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "link.joblib").symlink_to(path)
    with pytest.raises(ModelError, match="outside"):
        load_model(tmp_path / "models" / "link.joblib", [tmp_path / "models"])


def test_other_format_and_broken_files_are_refused(small_model: TextModel, tmp_path: Path) -> None:
    payload = small_model.to_payload()
    payload["format_version"] = FORMAT_VERSION + 1
    joblib.dump(payload, tmp_path / "future.joblib")
    with pytest.raises(ModelError, match="retrain or upgrade"):
        load_model(tmp_path / "future.joblib", [tmp_path])
    joblib.dump({"kind": "something else"}, tmp_path / "other.joblib")
    with pytest.raises(ModelError, match="not a postwarden text model"):
        load_model(tmp_path / "other.joblib", [tmp_path])
    (tmp_path / "junk.joblib").write_bytes(b"not a joblib file")
    with pytest.raises(ModelError, match="cannot read model"):
        load_model(tmp_path / "junk.joblib", [tmp_path])
    with pytest.raises(ModelError, match="no such model file"):
        load_model(tmp_path / "missing.joblib", [tmp_path])


def test_pruning_keeps_the_largest_weights(small_model: TextModel, tmp_path: Path) -> None:
    path = small_model.save(tmp_path / "small.joblib", max_weights=50)
    loaded = load_model(path, [tmp_path])
    for head in loaded.heads.values():
        assert (head.weights != 0).sum() <= 50
