"""Obfuscated spam still scores as spam with the shipped model, and mail dressed as today's
clients send it (``modern_dress``) gets the verdict it got in the form of 2002.

The corpus-free tests use the project's own samples and always run; the corpus tests build
variants from real test-split messages and skip when the corpora are absent.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from postwarden.classifiers.model_file import TextModel, load_model
from postwarden.classifiers.model_store import SHIPPED_FILE
from postwarden.classifiers.modern_dress import dress
from postwarden.classifiers.split import TEST, split_of
from postwarden.message import parse_message

from .obfuscate import variants
from .samples import HAM_SAMPLES, PHISH_SAMPLES, SPAM_SAMPLES

# ../shared/corpora beside the repository, or POSTWARDEN_CORPORA
CORPORA = Path(os.environ.get("POSTWARDEN_CORPORA",
                              Path(__file__).resolve().parents[4] / "shared" / "corpora"))


@pytest.fixture(scope="module")
def shipped():
    return load_model(SHIPPED_FILE)


def _shift(model: TextModel, raw: bytes, other: bytes) -> dict[str, float]:
    """How far each head's logit moves from ``raw`` to ``other``."""
    before, after = model.score(parse_message(raw)), model.score(parse_message(other))
    return {head: after[head].logit - score.logit for head, score in before.items()}


def _shifts(model: TextModel, raws: list[bytes]) -> dict[str, list[float]]:
    """How far re-dressing with a PDF attached moves each message's logit, per head."""
    out: dict[str, list[float]] = {}
    for raw in raws:
        for head, shift in _shift(model, raw, dress(raw, attach=True) or raw).items():
            out.setdefault(head, []).append(shift)
    return out


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


def test_samples_dressed_as_mail_of_today_keep_their_verdict(shipped) -> None:
    for raw in HAM_SAMPLES:
        dressed = dress(raw)
        assert dressed is not None and b"multipart/alternative" in dressed
        assert not _flagged(shipped, dressed)
    for raw in SPAM_SAMPLES:
        assert _flagged(shipped, dress(raw), "spam")


def test_a_document_attached_is_no_sign_of_phishing(shipped) -> None:
    """Business mail of today: HTML alternative and a PDF. The corpora's ham has neither, so a
    model that learnt the form moved such ham 3.5 in the phishing logit (featuriser 4)."""
    shifts = _shifts(shipped, HAM_SAMPLES)
    for head in ("spam", "phish"):
        assert max(abs(x) for x in shifts[head]) < 0.5, (head, shifts[head])
    for raw in HAM_SAMPLES:
        assert not _flagged(shipped, dress(raw, attach=True))


def test_secure_links_are_no_sign_of_anything(shipped) -> None:
    """The ham of 2002 linked over http, the phishing of 2015-2018 more often over https, and
    today every link is https: a model that learnt the scheme (featuriser 6 moved held-out ham
    +0.74 in the phishing logit for it) judges the mail of today by its links' age."""
    upgraded = 0
    for raw in HAM_SAMPLES + SPAM_SAMPLES + PHISH_SAMPLES:
        plain, secure = dress(raw), dress(raw, https=True)
        assert plain is not None and secure is not None
        upgraded += plain != secure
        before, after = shipped.score(parse_message(plain)), shipped.score(parse_message(secure))
        for head, score in before.items():
            assert after[head].probability == pytest.approx(score.probability, abs=1e-9), head
    assert upgraded >= 5


def test_a_subject_in_the_second_person_is_no_sign_of_phishing(shipped) -> None:
    """Notices, orders and receipts of today open their subjects with "Your"; the corpora's ham
    has almost none, and the featuriser 7 model added 1.3 to 1.8 to either logit for the word."""
    for raw in HAM_SAMPLES:
        subject = parse_message(raw).subject
        topic = subject.removeprefix("Re: ")  # "Re: your ..." is a spammer's fake reply
        plain, yours = (raw.replace(f"Subject: {subject}".encode(), f"Subject: {new}".encode())
                        for new in (topic, f"Your {topic}"))
        for head, shift in _shift(shipped, plain, yours).items():
            # the character n-grams of "your" still count: +0.4 to +0.7 (featuriser 7: +1.3 to +1.8)
            assert shift < 0.8, (topic, head, shift)


def test_links_of_an_encoded_part_are_made_https() -> None:
    raw = (b"From: a@example.com\r\nTo: b@example.org\r\nSubject: notes\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes("Gr\u00fc\u00dfe, see HTTP://example.com/notes\n".encode()) + b"--XX--\r\n")
    text = parse_message(dress(raw, https=True) or b"").text
    assert "https://example.com/notes" in text and "Grüße" in text


def _test_split(name: str, count: int) -> list[bytes]:
    from postwarden.sources import read_messages

    out: list[bytes] = []
    for stored in read_messages([str(CORPORA / "spamassassin" / name)]):
        if split_of(stored.raw) == TEST:
            out.append(stored.raw)
            if len(out) == count:
                break
    assert len(out) == count
    return out


@pytest.mark.skipif(not (CORPORA / "spamassassin").is_dir(), reason="public corpora not present")
def test_corpus_mail_dressed_as_mail_of_today_keeps_its_verdict(shipped) -> None:
    """Hard ham (bulk mail people asked for, the ham closest to spam) and spam of the test split,
    re-dressed: the ham is flagged at most once more, the spam loses at most 3 points of recall."""
    ham = _test_split("20030228_hard_ham.tar.bz2", 37)  # all of hard_ham's test split
    spam = _test_split("20050311_spam_2.tar.bz2", 150)
    for raws, most_more in ((ham, 1), (spam, None)):
        clean = sum(_flagged(shipped, raw, "spam") for raw in raws)
        dressed = sum(_flagged(shipped, dress(raw) or raw, "spam") for raw in raws)
        if most_more is not None:
            assert dressed <= clean + most_more, (clean, dressed)
        else:
            assert dressed >= clean - 0.03 * len(raws), (clean, dressed)


@pytest.mark.skipif(not (CORPORA / "spamassassin").is_dir(), reason="public corpora not present")
def test_corpus_ham_with_a_document_attached_keeps_its_scores(shipped) -> None:
    ham = _test_split("20030228_easy_ham.tar.bz2", 100)
    by_head = _shifts(shipped, ham)
    for head in ("spam", "phish"):
        shifts = sorted(by_head[head])
        assert abs(shifts[len(shifts) // 2]) < 0.25 and shifts[-5] < 1.0, (head, shifts[-5:])


@pytest.mark.skipif(not (CORPORA / "spamassassin").is_dir(), reason="public corpora not present")
def test_obfuscated_corpus_spam_keeps_its_recall(shipped) -> None:
    spam = _test_split("20050311_spam_2.tar.bz2", 120)
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
