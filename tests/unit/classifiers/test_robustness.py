"""Obfuscated spam still scores as spam with the shipped model.

The corpus-free test uses the project's own spam samples and always runs; the corpus test
builds variants from real SpamAssassin test-split spam and skips when the corpora are absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from postwarden.classifiers.model_file import TextModel, load_model
from postwarden.classifiers.model_store import SHIPPED_FILE
from postwarden.classifiers.split import TEST, split_of
from postwarden.message import parse_message

from .obfuscate import variants
from .samples import PHISH_SAMPLES, SPAM_SAMPLES

# ../shared/corpora beside the repository, or POSTWARDEN_CORPORA
CORPORA = Path(os.environ.get("POSTWARDEN_CORPORA",
                              Path(__file__).resolve().parents[4] / "shared" / "corpora"))


@pytest.fixture(scope="module")
def shipped():
    return load_model(SHIPPED_FILE)


def _flagged(model: TextModel, raw: bytes, head: str | None = None) -> bool:
    """Whether ``head`` (default: either head, as the engine's check adds both) flags it."""
    scores = model.score(parse_message(raw))
    return any(s.over for name, s in scores.items() if head in (None, name))


def test_samples_and_their_obfuscations_are_spam(shipped) -> None:
    for raw in SPAM_SAMPLES + PHISH_SAMPLES:
        message = parse_message(raw)
        for name, variant in variants(message.subject, message.text).items():
            assert _flagged(shipped, variant), (message.subject, name)


def test_phishing_sample_is_phishing(shipped) -> None:
    for raw in PHISH_SAMPLES:
        assert _flagged(shipped, raw, "phish")


@pytest.mark.skipif(not (CORPORA / "spamassassin").is_dir(), reason="public corpora not present")
def test_obfuscated_corpus_spam_keeps_its_recall(shipped) -> None:
    from postwarden.sources import read_messages

    path = CORPORA / "spamassassin" / "20050311_spam_2.tar.bz2"
    spam: list[bytes] = []
    for stored in read_messages([str(path)]):
        if split_of(stored.raw) == TEST:
            spam.append(stored.raw)
            if len(spam) == 120:
                break
    assert len(spam) == 120
    caught: dict[str, int] = {}
    for i, raw in enumerate(spam):
        message = parse_message(raw)
        if not message.text.strip():
            continue
        for name, variant in variants(message.subject, message.text[:5000], seed=i).items():
            caught[name] = caught.get(name, 0) + _flagged(shipped, variant)
    clean = caught.pop("clean") / len(spam)
    assert clean > 0.85
    for name, count in caught.items():
        assert count / len(spam) >= clean - 0.05, (name, count / len(spam), clean)
