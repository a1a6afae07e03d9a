"""Content centroids stay finite however much one sender writes to one address.

A centroid is a decayed sum of unit vectors stored as float16, so without a cap a monitoring
job that mails one address a few hundred times a day would overflow it within a half-life: the
stored centroid would become infinite, stay so, and make the content signal NaN.
"""

from __future__ import annotations

import numpy as np

from postwarden.misdirection import textvec
from postwarden.misdirection.features import INDEX, message_features
from postwarden.misdirection.history import Recipient, RecipientHistory

T0 = 1_700_000_000.0
SENDER, ALERTS = "cron@example.com", "oncall@example.com"
ALERT = ("disk usage alert", "filesystem var usage above threshold on host db")


def _lookup(history: RecipientHistory, at: float, text: tuple[str, str] = ALERT):
    return history.lookup(SENDER, [Recipient(ALERTS)], text[0], text[1], at)


def _stored_centroid(history: RecipientHistory) -> np.ndarray:
    s, t = history.tok("a", SENDER), history.tok("a", ALERTS)
    return textvec.unpack(history.store.get([("v:" + s, t)])[("v:" + s, t)])


def test_a_centroid_past_float16_range_is_scaled_down_not_overflowed() -> None:
    unit = textvec.text_vector(*ALERT)
    huge = unit * 60_000.0  # one message more and a component would pass float16's 65,504
    grown = textvec.accumulate(huge, 1.0, unit)
    stored = textvec.unpack(textvec.pack(grown))
    assert np.isfinite(stored).all()
    assert textvec.norm(stored) <= textvec.MAX_LENGTH * 1.001
    assert textvec.cosine(stored, unit) > 0.99  # still about what it was about


def test_an_address_mailed_over_a_thousand_times_keeps_a_bounded_centroid_and_its_content(history) -> None:
    for i in range(1_100):
        history.learn(_lookup(history, T0 + 60 * i))
    assert textvec.norm(_stored_centroid(history)) <= textvec.MAX_LENGTH * 1.001
    same = message_features(_lookup(history, T0 + 70_000))[0][INDEX["content"]]
    other = message_features(_lookup(history, T0 + 70_000, ("lunch", "shall we meet for lunch on friday")))
    assert same > 0.99 and other[0][INDEX["content"]] < 0.2


def test_an_infinite_centroid_left_by_an_older_version_says_nothing_and_is_rebuilt(history) -> None:
    history.learn(_lookup(history, T0))
    s, t = history.tok("a", SENDER), history.tok("a", ALERTS)
    history.store.put([("v:" + s, t, np.full(textvec.DIM, np.inf, dtype="<f2").tobytes())], T0)
    evidence = _lookup(history, T0 + 60)
    row = message_features(evidence)[0]
    assert np.isfinite(row).all() and row[INDEX["content"]] == 0.0
    history.learn(evidence)
    assert np.isfinite(_stored_centroid(history)).all()
    assert message_features(_lookup(history, T0 + 120))[0][INDEX["content"]] > 0.99
