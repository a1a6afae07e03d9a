from __future__ import annotations

import numpy as np

from postwarden.classifiers.model_file import TextModel
from postwarden.classifiers.training import HEAD_POSITIVES, platt, sample_weights
from postwarden.message import parse_message

from .conftest import examples_of
from .samples import synthetic_corpus


def test_model_separates_unseen_mail_and_records_its_training(small_model: TextModel) -> None:
    unseen = synthetic_corpus(40, seed=1234)
    p = {kind: [small_model.score(parse_message(raw))["spam"].probability for raw in msgs]
         for kind, msgs in unseen.items()}
    assert min(p["spam"]) > max(p["ham"])
    phish = [small_model.score(parse_message(raw))["phish"].probability for raw in unseen["phish"]]
    assert np.mean(np.array(phish) >= small_model.heads["phish"].threshold) > 0.9
    info = small_model.info
    assert info["training"]["counts"]["ham:synthetic-ham"]["train"] > 50
    for head in ("spam", "phish"):
        assert 0.5 <= small_model.heads[head].threshold < 1.0
        assert info["validation"][head]["roc_auc"] > 0.99


def test_training_never_uses_the_test_split(corpus: dict[str, list[bytes]]) -> None:
    from postwarden.classifiers.features import FeaturiserSettings
    from postwarden.classifiers.training import train_model

    examples = examples_of(corpus)
    model = train_model(examples, FeaturiserSettings(n_bits=16), C=1.0)
    # Changing the labels of test-split messages must not change the model at all.
    flipped = examples_of(corpus)
    for e in flipped:
        if e.split == "test":
            e.label = "spam" if e.label == "ham" else "ham"
    again = train_model(flipped, FeaturiserSettings(n_bits=16), C=1.0)
    for head in model.heads:
        assert np.array_equal(model.heads[head].weights, again.heads[head].weights)


def test_sources_weigh_alike_and_classes_balance(corpus: dict[str, list[bytes]]) -> None:
    rows = examples_of({"ham": corpus["ham"][:100], "spam": corpus["spam"][:30]})
    small = examples_of({"ham": corpus["ham"][100:]})  # 20 messages
    for e in small:
        e.group = "small-ham"
    rows += small
    y, w = sample_weights(rows, HEAD_POSITIVES["spam"])
    assert abs(w[y == 1].sum() - w[y == 0].sum()) < 1e-6
    groups = np.array([e.group for e in rows])
    big_share = w[groups == "synthetic-ham"].sum()
    small_share = w[groups == "small-ham"].sum()
    assert abs(big_share / small_share - 1.0) < 1e-6  # 100 and 20 messages, the same total


def test_platt_scaling_calibrates() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=4000) * 3
    y = (rng.random(4000) < 1 / (1 + np.exp(-(0.5 * z - 1)))).astype(int)
    a, b = platt(z, y)
    assert abs(a - 0.5) < 0.1 and abs(b + 1) < 0.15


def test_nb_ratios_favour_features_of_the_positive_class() -> None:
    import numpy as np
    import scipy.sparse as sp

    from postwarden.classifiers.training import nb_ratios

    # feature 0 only in positives, feature 1 only in negatives, feature 2 in both alike
    X = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 1], [0, 1, 1], [0, 1, 1]], dtype=np.float64))
    y = np.array([1, 1, 0, 0])
    r = nb_ratios(X, y, np.ones(4))
    assert r[0] > 0 > r[1]
    assert abs(r[2]) < 1e-9


def test_the_phishing_head_does_not_take_urgent_spam_for_phishing() -> None:
    """Spam and phishing share their pressure ("act now", "limited time"); only phishing has
    the lure to a login. Fitted on ham and phishing alone, the phishing head learns the pressure
    as phishing and calls urgent spam phishing (quarantine-level score); fitted with spam as
    "not phishing" too, it learns what is particular to phishing."""
    import random

    from postwarden.classifiers.features import FeaturiserSettings
    from postwarden.classifiers.training import train_model

    from .samples import _message

    rng = random.Random(5)
    ham_words = "meeting budget draft review schedule report project team thursday notes".split()  # noqa: SIM905 - reads better as text
    pressure = "urgent act now limited time immediately final notice expires today".split()  # noqa: SIM905
    goods = "pills discount replica watches casino loans cheap order shipping".split()  # noqa: SIM905
    lure = "verify login password account suspended confirm identity credentials".split()  # noqa: SIM905

    def mail(kind: str, i: int, words: list[str]) -> bytes:
        body = " ".join(rng.choice(words) for _ in range(40))
        return _message(f"{kind}@{kind}.example", " ".join(rng.sample(words, 4)), body,
                        message_id=f"<{kind}-{i}@test>")

    corpus = {"ham": [mail("ham", i, ham_words) for i in range(150)],
              "spam": [mail("spam", i, pressure + goods) for i in range(150)],
              "phish": [mail("phish", i, pressure + lure) for i in range(150)]}
    model = train_model(examples_of(corpus), FeaturiserSettings(n_bits=16), C=10.0)
    urgent_spam = [parse_message(mail("other", 1000 + i, pressure + pressure + goods)) for i in range(20)]
    assert not any(model.score(m)["phish"].over for m in urgent_spam)
    assert all(model.score(m)["spam"].over for m in urgent_spam)
    phishing = [parse_message(mail("other", 2000 + i, pressure + lure)) for i in range(20)]
    assert all(model.score(m)["phish"].over for m in phishing)
