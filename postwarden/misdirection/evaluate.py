"""The evaluation on real sent mail with simulated mistakes, and the Carvalho-Cohen protocol.

``collect`` replays every mailbox through one history in time order: the first
``history_share`` of each sender's mail only teaches; each later message is scored as it was
(its real recipients are the negatives), then once per mistake kind with one recipient replaced
(the replaced one is the positive), and then learned, as the milter learns a delivered message.
The rows keep the features, not the scores, so training and every model are measured on the
same replay. ``leak_protocol`` is Carvalho and Cohen (SDM 2007) exactly: 90/10 time split per
sender, one leak per test message chosen by shared first letters, Prec@1.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from postwarden.misdirection import simulate
from postwarden.misdirection.corpus import SentMessage
from postwarden.misdirection.features import INDEX, contact_at_lookalike_domain, message_features
from postwarden.misdirection.history import MessageEvidence, Recipient, RecipientHistory
from postwarden.misdirection.model import Weights
from postwarden.misdirection.validity import AddressValidator
from postwarden.stores.sqlite import SqliteStore

REAL = "real"
LEAK = "leak"  # training rows only: an address-book entry added as in Carvalho and Cohen


@dataclass
class Rows:
    """One row per scored recipient; ``group`` ties the rows of one scored message copy."""

    x: list[np.ndarray] = field(default_factory=list)
    label: list[int] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    user: list[str] = field(default_factory=list)
    group: list[int] = field(default_factory=list)
    invalid: list[bool] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    messages: Counter = field(default_factory=Counter)

    def add(self, ev: MessageEvidence, replaced: int | None, kind: str, user: str, group: int) -> None:
        for i, row in enumerate(message_features(ev)):
            self.invalid.append(bool(AddressValidator.recipient_problem(ev.recipients[i])))
            self.x.append(row)
            self.label.append(1 if replaced == i else 0)
            self.kind.append(kind)
            self.user.append(user)
            self.group.append(group)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"x": np.vstack(self.x), "label": np.asarray(self.label), "kind": np.asarray(self.kind),
                "user": np.asarray(self.user), "group": np.asarray(self.group),
                "invalid": np.asarray(self.invalid, dtype=bool)}


def new_history(local_domains: tuple[str, ...] = ("enron.com",), secret: str | None = "evaluation",
                half_life_days: float = 180.0, horizon_days: float = 730.0) -> RecipientHistory:
    return RecipientHistory(SqliteStore(":memory:"), secret, half_life_days, horizon_days, local_domains)


def _learn(history: RecipientHistory, m: SentMessage) -> None:
    history.learn(history.lookup(m.sender, list(m.recipients), m.subject, m.text, m.at))


def collect(boxes: dict[str, list[SentMessage]], users: list[str], history_share: float = 0.7,
            history: RecipientHistory | None = None, seed: int = 1) -> Rows:
    """Replay ``boxes``; score (and simulate mistakes for) the later mail of ``users`` only."""
    history = history or new_history()
    rows = Rows()
    everything = {r.address for msgs in boxes.values() for m in msgs for r in m.recipients}
    domains = {a.rpartition("@")[2] for a in everything}
    ever = {u: {r.address for m in msgs for r in m.recipients} for u, msgs in boxes.items()}
    timeline = []
    for user, msgs in boxes.items():
        cut = int(len(msgs) * history_share)
        timeline += [(m.at, user, k >= cut, m) for k, m in enumerate(msgs)]
    timeline.sort(key=lambda t: t[0])
    contacts: dict[str, Counter] = {u: Counter() for u in boxes}
    group = 0
    for _, user, testing, m in timeline:
        if testing and user in users:
            rng = random.Random(zlib.crc32(f"{seed}:{user}:{m.at}".encode()))
            rcpts = list(m.recipients)
            ev = history.lookup(m.sender, rcpts, m.subject, m.text, m.at)
            rows.add(ev, None, REAL, user, group)
            rows.messages[REAL] += 1
            group += 1
            index = rng.randrange(len(rcpts))
            target = rcpts[index].address
            exclude = {r.address for r in rcpts}
            for kind in simulate.KINDS:
                if kind == "typo":
                    new = simulate.typo(rng, target, lambda a: a in everything)
                elif kind == "lookalike":
                    new = simulate.lookalike(rng, target, lambda a: a.rpartition("@")[2] in domains)
                elif kind == "same_name":
                    new = simulate.same_name(rng, target, sorted(contacts[user]), exclude)
                else:
                    new = simulate.stranger(rng, _pool(boxes, user), lambda a, u=user: a not in ever[u])
                if new is None:
                    rows.skipped[kind] += 1
                    continue
                mutated = list(rcpts)
                mutated[index] = Recipient(new)
                ev2 = history.lookup(m.sender, mutated, m.subject, m.text, m.at)
                rows.add(ev2, index, kind, user, group)
                rows.messages[kind] += 1
                group += 1
            leak = _leak(rng, m, sorted(contacts[user]))
            if leak is not None:  # the Carvalho-Cohen leak: an added, not a replaced, recipient
                ev3 = history.lookup(m.sender, [*rcpts, Recipient(leak)], m.subject, m.text, m.at)
                rows.add(ev3, len(rcpts), LEAK, user, group)
                rows.messages[LEAK] += 1
                group += 1
            history.learn(ev)
        else:
            _learn(history, m)
        contacts[user].update(r.address for r in m.recipients)
    return rows


_POOLS: dict[tuple[int, str], list[str]] = {}


def _pool(boxes: dict[str, list[SentMessage]], user: str) -> list[str]:
    key = (id(boxes), user)
    if key not in _POOLS:
        _POOLS[key] = [r.address for u, msgs in boxes.items() if u != user for m in msgs
                       for r in m.recipients]
    return _POOLS[key]


# -- metrics ------------------------------------------------------------------------------------
def threshold_at(scores: np.ndarray, fpr: float) -> float:
    """The lowest threshold that flags at most ``fpr`` of ``scores`` (the real recipients)."""
    ordered = np.sort(scores)[::-1]
    k = int(np.floor(fpr * len(ordered)))
    if k >= len(ordered):
        return float(ordered[-1])
    return float(np.nextafter(ordered[k], np.inf))


def operating_point(scores: np.ndarray, data: dict[str, np.ndarray], threshold: float) -> dict:
    """Figures at one threshold: recipient and message false flags, detection per kind."""
    label, kind, group = data["label"], data["kind"], data["group"]
    flagged = scores >= threshold
    real = kind == REAL
    out: dict = {"threshold": threshold, "false_flag_rate": float(flagged[real].mean())}
    real_groups = np.unique(group[real])
    stopped = {int(g) for g in np.unique(group[real & flagged])}
    out["message_stop_share"] = len(stopped) / max(len(real_groups), 1)
    for k in simulate.KINDS:
        sel = (kind == k) & (label == 1)
        n = int(sel.sum())
        if not n:
            out[k] = {"n": 0}
            continue
        detected = float(flagged[sel].mean())
        groups = group[kind == k]
        g_flags: dict[int, list[tuple[bool, int]]] = {}
        for g, f, lab in zip(groups, flagged[kind == k], label[kind == k], strict=True):
            g_flags.setdefault(int(g), []).append((bool(f), int(lab)))
        stopped_k = [v for v in g_flags.values() if any(f for f, _ in v)]
        only = sum(1 for v in stopped_k if all(f == bool(lab) for f, lab in v))
        out[k] = {"n": n, "detected": detected,
                  "stopped": len(stopped_k) / len(g_flags),
                  "flagged_is_replaced": only / len(stopped_k) if stopped_k else 0.0}
    return out


def deployed_scores(weights: Weights, data: dict[str, np.ndarray]) -> np.ndarray:
    """The model's scores, with every syntactically invalid address and every contact at a
    lookalike domain above any threshold: the check stops those whatever the model says."""
    x = data["x"]
    return np.where(data["invalid"] | contact_at_lookalike_domain(x), np.inf, weights.score(x))


def baseline_scores(data: dict[str, np.ndarray]) -> np.ndarray:
    """Flag any never-seen recipient: the score is the never_mailed feature itself."""
    return data["x"][:, INDEX["never_mailed"]].astype(float)


# -- Carvalho and Cohen, SDM 2007 ----------------------------------------------------------------
def _leak(rng: random.Random, message: SentMessage, book: list[str]) -> str | None:
    present = {r.address for r in message.recipients}
    candidates = [a for a in book if a not in present]
    if not candidates:
        return None
    true = rng.choice(message.recipients).address
    for n in (3, 2, 1):
        near = [a for a in candidates if a[:n] == true[:n]]
        if near:
            return rng.choice(near)
    return rng.choice(candidates)


def leak_protocol(boxes: dict[str, list[SentMessage]], users: list[str], weights: Weights,
                  seed: int = 1, train_share: float = 0.9) -> dict:
    """Prec@1 of the leak among the recipients, per user and overall (means over messages)."""
    history = new_history()
    tests: list[tuple[str, SentMessage]] = []
    timeline = []
    for user, msgs in boxes.items():
        cut = int(len(msgs) * train_share)
        timeline += [(m.at, user, m) for m in msgs[:cut]]
        if user in users:
            tests += [(user, m) for m in msgs[cut:]]
    for _, _, m in sorted(timeline, key=lambda t: t[0]):
        _learn(history, m)
    books = {u: sorted({r.address for m in msgs[:int(len(msgs) * train_share)] for r in m.recipients})
             for u, msgs in boxes.items()}
    per_user: dict[str, list[float]] = {}
    random_hits: list[float] = []
    baseline_hits: list[float] = []
    for user, m in tests:
        rng = random.Random(zlib.crc32(f"{seed}:leak:{user}:{m.at}".encode()))
        leak = _leak(rng, m, books[user])
        if leak is None:
            continue
        rcpts = [*m.recipients, Recipient(leak)]
        x = message_features(history.lookup(m.sender, rcpts, m.subject, m.text, m.at))
        deployed = np.where(contact_at_lookalike_domain(x), np.inf, weights.score(x))
        for scores, sink in ((deployed, per_user.setdefault(user, [])),
                             (-x[:, INDEX["contact_weight"]], baseline_hits)):
            top = scores.max()
            winners = np.flatnonzero(scores == top)
            sink.append(1.0 / len(winners) if len(rcpts) - 1 in winners else 0.0)
        random_hits.append(1.0 / len(rcpts))
    all_hits = [h for v in per_user.values() for h in v]
    return {"prec_at_1": float(np.mean(all_hits)) if all_hits else 0.0,
            "messages": len(all_hits),
            "random": float(np.mean(random_hits)) if random_hits else 0.0,
            "least_frequent_contact": float(np.mean(baseline_hits)) if baseline_hits else 0.0,
            "per_user": {u: float(np.mean(v)) for u, v in sorted(per_user.items())}}


def split_users(users: list[str], seed: int = 7) -> tuple[list[str], list[str]]:
    """A fixed half of the mailboxes trains, the other half tests; never both."""
    ordered = sorted(users)
    random.Random(seed).shuffle(ordered)
    half = len(ordered) // 2
    return sorted(ordered[:half]), sorted(ordered[half:])
