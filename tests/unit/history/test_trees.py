"""The tree model: the shipped file scores like scikit-learn did, and its reasons add up."""

from __future__ import annotations

import json

import numpy as np
import pytest

from postwarden.misdirection.features import INDEX, NAMES
from postwarden.misdirection.model import LEAF, ModelError, Trees, Weights, load_weights


def _stump(feature: str, threshold: float, low: float, high: float, base: float = -1.0) -> Trees:
    """One tree: ``feature <= threshold`` gives ``low``, else ``high``; the root is their mean."""
    return Trees(base, np.array([0]), np.array([INDEX[feature], LEAF, LEAF]), np.array([threshold, 0.0, 0.0]),
                 np.array([1, 1, 2]), np.array([2, 1, 2]), np.array([(low + high) / 2, low, high]), 1)


def test_a_stump_sends_rows_left_or_right_and_names_the_feature_that_moved_the_score():
    stump = _stump("near_contact", 0.5, -2.0, 3.0)
    weights = Weights(_stump("contact_weight", 0.5, 5.0, -5.0), stump, {"fpr_0.5": 0.5}, {})
    x = np.zeros((2, len(NAMES)))
    x[:, INDEX["never_mailed"]] = 1.0  # both take the never-mailed branch
    x[1, INDEX["near_contact"]] = 1.0
    assert np.allclose(weights.logit(x), [-3.0, 2.0])
    contrib = weights.contributions(x[1])
    assert contrib[INDEX["near_contact"]] == pytest.approx(2.5)
    assert np.count_nonzero(contrib) == 1


def test_the_shipped_trees_attribution_adds_up_to_the_logit():
    weights = load_weights()
    rng = np.random.default_rng(3)
    x = rng.random((20, len(NAMES)))
    x[:, INDEX["never_mailed"]] = rng.integers(0, 2, 20)
    for row, logit in zip(x, weights.logit(x), strict=True):
        trees = weights.branch(row)
        root = trees.value[trees.roots].sum() + trees.base
        assert root + weights.contributions(row).sum() == pytest.approx(logit, abs=1e-9)


def _walk(trees: Trees, row: np.ndarray) -> np.ndarray:
    """Saabas' attribution the plain way: follow each tree's nodes from its root, adding to the
    split's feature what the step moved the value, level by level, tree by tree."""
    out = np.zeros(len(NAMES))
    node = trees.roots.copy()
    for _ in range(trees.depth):
        inner = trees.feature[node] != LEAF
        node = node[inner]
        feat = trees.feature[node]
        child = np.where(row[feat] <= trees.threshold[node], trees.left[node], trees.right[node])
        np.add.at(out, feat, trees.value[child] - trees.value[node])
        node = child
    return out


def test_scoring_a_message_at_once_gives_each_recipient_the_scores_and_shares_of_scoring_it_alone():
    weights = load_weights()
    rng = np.random.default_rng(7)
    x = rng.random((40, len(NAMES))) * rng.choice([0.5, 2.0, 8.0], size=(40, 1))
    x[rng.random(x.shape) < 0.5] = 0.0
    x[:, INDEX["never_mailed"]] = rng.integers(0, 2, 40)
    scores, shares = weights.explain(x)
    assert (scores == weights.score(x)).all()
    assert 0 < weights.is_unknown(x).sum() < 40
    for row, row_shares in zip(x, shares, strict=True):
        assert (row_shares == _walk(weights.branch(row), row)).all()  # the same floats, not nearly
        assert (row_shares == weights.contributions(row)).all()


def test_branches_of_other_shapes_score_and_explain_alike():
    """Ensembles of unlike shapes cannot share one descent: each branch then descends alone."""
    one, other = _stump("near_contact", 0.5, -2.0, 3.0), _stump("content", 0.2, 1.0, -1.0, base=0.5)
    two = Trees(0.0, np.array([0, 3]), np.concatenate([one.feature, other.feature]),
                np.concatenate([one.threshold, other.threshold]), np.concatenate([one.left, other.left + 3]),
                np.concatenate([one.right, other.right + 3]), np.concatenate([one.value, other.value]), 1)
    weights = Weights(two, one, {"fpr_0.5": 0.5}, {})
    x = np.zeros((3, len(NAMES)))
    x[0, INDEX["never_mailed"]], x[0, INDEX["near_contact"]] = 1.0, 1.0
    x[1, INDEX["content"]] = 0.9
    scores, shares = weights.explain(x)
    assert weights.logit(x).tolist() == pytest.approx([-1.0 + 3.0, -2.0 - 1.0, -2.0 + 1.0])
    assert (scores == weights.score(x)).all()
    assert shares[0, INDEX["near_contact"]] == pytest.approx(2.5)
    assert shares[1, INDEX["content"]] == pytest.approx(-1.0) and shares[1, INDEX["near_contact"]] == -2.5
    for row, row_shares in zip(x, shares, strict=True):
        assert (row_shares == _walk(weights.branch(row), row)).all()


def test_the_shipped_trees_flag_a_typo_of_a_contact_above_a_frequent_contact():
    weights = load_weights()
    known = np.zeros(len(NAMES))
    known[[INDEX["contact_weight"], INDEX["contact_count"], INDEX["domain_weight"]]] = [3.0, 4.0, 4.0]
    known[[INDEX["sender_history"], INDEX["internal"], INDEX["first_name_in_text"]]] = [0.9, 1.0, 1.0]
    typo = np.zeros(len(NAMES))
    typo[[INDEX["never_mailed"], INDEX["near_contact"], INDEX["domain_weight"]]] = [1.0, 2.5, 4.0]
    typo[[INDEX["sender_history"], INDEX["unknown_x_history"], INDEX["internal"]]] = [0.9, 0.9, 1.0]
    typo[INDEX["name_unseen"]] = 0.5
    low, high = weights.score(np.vstack([known, typo]))
    assert low < weights.default_threshold <= high


def test_a_weights_file_with_a_node_out_of_range_is_refused(tmp_path):
    data = load_weights().to_dict()
    data["unknown"]["left"][0] = len(data["unknown"]["value"]) + 5
    path = tmp_path / "w.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="out of range"):
        load_weights(path)


def test_a_weights_file_of_the_old_linear_format_is_refused(tmp_path):
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"format": "postwarden-misdirection-weights/2", "features": NAMES}))
    with pytest.raises(ModelError, match="not a postwarden-misdirection-weights/3 file"):
        load_weights(path)


def test_a_contact_at_a_lookalike_domain_is_stopped_even_where_the_trees_score_it_low(history):
    """The check's one rule above the trees: ``dan@acme.co`` from a sender who writes to
    ``dan@acme.com`` is stopped whatever the trees say, as a malformed address is."""
    from postwarden.misdirection.history import Recipient
    from postwarden.misdirection.scorer import score_message

    low = _stump("never_mailed", 0.5, -8.0, -8.0)  # every recipient far under any threshold
    weights = Weights(low, low, {"fpr_0.5": 0.5}, {})
    sender, t0 = "alice@example.com", 1_700_000_000.0
    for i in range(5):
        history.learn(history.lookup(sender, [Recipient("dan.smith@acme.com")], "s", "the contract", t0 + i))
    rcpts = [Recipient(a) for a in ("dan.smith@acme.co", "dan.smith@acrne.com", "dan.smith@acme.com",
                                    "someone@elsewhere.org", "dn.smith@acme.com")]
    evidence = history.lookup(sender, rcpts, "s", "the contract", t0 + 10)
    scores = {rs.address: rs for rs in score_message(history, weights, evidence, 0.5)}
    for wrong in ("dan.smith@acme.co", "dan.smith@acrne.com"):
        assert scores[wrong].flagged and scores[wrong].score == 1.0
        assert scores[wrong].resembles == "dan.smith@acme.com"
        assert "at a lookalike domain" in scores[wrong].why
    # the rest is the trees' to judge: a typo at the contact's own domain, a stranger, the contact
    assert not any(scores[a].flagged for a in ("dan.smith@acme.com", "someone@elsewhere.org",
                                               "dn.smith@acme.com"))


def test_a_contact_at_a_lookalike_domain_the_hashed_history_cannot_name_is_still_called_one(history):
    """In hashed mode the reply names the contact only when it can find the address among the
    look-alikes of the recipient; for ``acme.example`` it cannot (no common suffix to try). The
    reply must still say what the check saw, a contact at a lookalike domain, not a typo."""
    from postwarden.misdirection.history import Recipient
    from postwarden.misdirection.scorer import score_message

    low = _stump("never_mailed", 0.5, -8.0, -8.0)
    weights = Weights(low, low, {"fpr_0.5": 0.5}, {})
    sender, t0 = "alice@example.com", 1_700_000_000.0
    contact = [Recipient("dan.smith@acme.example")]
    for i in range(5):
        history.learn(history.lookup(sender, contact, "s", "the contract", t0 + i))
    evidence = history.lookup(sender, [Recipient("dan.smith@acme.co")], "s", "the contract", t0 + 10)
    (scored,) = score_message(history, weights, evidence, 0.5)
    assert scored.flagged
    assert scored.resembles == ("" if history.tok.hashed else "dan.smith@acme.example")
    assert "at a lookalike domain" in scored.why and "typo" not in scored.why


def test_one_message_to_the_same_name_elsewhere_does_not_hide_the_usual_address(history):
    """Each sender keeps two entries per local part (the strongest address, the runner-up), for
    the same person at a lookalike domain. One message to ``dan.smith@gmail.com`` must not take
    the first from the contact written to every day, or ``dan.smith@acme.co`` would no longer be
    seen as that contact at a lookalike of its domain (and stopped whatever the trees say)."""
    from postwarden.misdirection.history import Recipient
    from postwarden.misdirection.scorer import score_message

    low = _stump("never_mailed", 0.5, -8.0, -8.0)
    weights = Weights(low, low, {"fpr_0.5": 0.5}, {})
    sender, t0 = "alice@example.com", 1_700_000_000.0
    for i in range(12):
        history.learn(history.lookup(sender, [Recipient("dan.smith@acme.com")], "s", "the contract", t0 + i))
    history.learn(history.lookup(sender, [Recipient("dan.smith@gmail.com")], "s", "the party", t0 + 20))
    lookalikes = [Recipient("dan.smith@acme.co"), Recipient("dan.smith@gmai1.com")]
    evidence = history.lookup(sender, lookalikes, "s", "the contract", t0 + 30)
    work, personal = score_message(history, weights, evidence, 0.5)
    assert work.flagged and work.resembles == "dan.smith@acme.com"
    assert "at a lookalike domain" in work.why
    # the weaker address is kept too, as the runner-up: its lookalike is stopped as well
    assert personal.flagged and personal.resembles == "dan.smith@gmail.com"
