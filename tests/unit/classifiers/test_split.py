from __future__ import annotations

from collections import Counter

from postwarden.classifiers.split import bucket, fold_of, identity, split_of


def _msg(mid: str, body: str = "hello") -> bytes:
    return f"Message-ID: {mid}\nSubject: x\n\n{body}\n".encode()


def test_split_is_stable_and_follows_the_message_id() -> None:
    a = _msg("<abc@example.org>", "first copy")
    b = b"From someone Thu Aug 22 13:17:22 2002\n" + _msg("<ABC@example.org>", "second copy, other folder")
    assert identity(a) == identity(b) == b"mid:abc@example.org"
    assert split_of(a) == split_of(b)
    # A fixed value guards against an accidental change of the rule (it would move messages
    # between train and test and invalidate every recorded figure).
    assert bucket(a) == bucket(_msg("<abc@example.org>")) == 9


def test_messages_without_id_split_by_content() -> None:
    one, two = b"Subject: x\n\nbody one\n", b"Subject: x\n\nbody two\n"
    assert identity(one) != identity(two)
    assert identity(one) == identity(b"From x Thu Aug 22 13:17:22 2002\n" + one)


def test_proportions_and_folds() -> None:
    messages = [_msg(f"<m{i}@example.org>") for i in range(4000)]
    counts = Counter(split_of(m) for m in messages)
    assert abs(counts["train"] / 4000 - 0.70) < 0.03
    assert abs(counts["validation"] / 4000 - 0.15) < 0.02
    assert abs(counts["test"] / 4000 - 0.15) < 0.02
    folds = Counter(fold_of(m) for m in messages)
    assert set(folds) == {0, 1, 2, 3, 4} and min(folds.values()) > 700
