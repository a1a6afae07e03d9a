"""The engine's check for the text models: p(spam) and p(phish) turned into score and reasons.

Below its threshold a head adds nothing. From the threshold ``t`` the score grows linearly
from ``<head>_score`` to ``<head>_score_max`` at p = 1, so with the default policy thresholds
(tag 5, quarantine 10, reject 15) a message the spam head is just sure about is tagged, a
certain one is quarantined, and the model alone never rejects: a rejection needs rules too.
Each hit's detail names the probability, the threshold, the model version and the features
that pushed hardest (``w:viagra+1.21``), so an operator can see why.

The probabilities are also left in ``ctx.notes["text_model"]``, which the verdict carries as
``model`` (``postwarden scan --json`` prints it), for checks that run later and for operators.

A message with no link and fewer than ``MIN_WORDS`` distinct words in its subject and text
(binary garbage, an empty body) is not scored: a text model has nothing to judge there, and
stray punctuation is not evidence. The rules see such mail (missing headers, malformed MIME).
Mail not written in English (``language.other_language``) is judged only from
``other_language_threshold`` (0.9): the models learnt from English mail.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from postwarden.classifiers.language import other_language
from postwarden.classifiers.model_file import HeadScore, ModelError, TextModel
from postwarden.classifiers.model_store import ModelStore
from postwarden.classifiers.received import arrival_hop
from postwarden.config import ConfigError, ModelSettings
from postwarden.context import INBOUND, Hit, ScanContext
from postwarden.message import ParsedMessage

log = logging.getLogger("postwarden.models")

HIT_IDS = {"spam": "MODEL_SPAM", "phish": "MODEL_PHISH"}
MIN_WORDS = 3
_WORDISH = re.compile(r"[^\W\d_]{2,}")


def enough_text(message: ParsedMessage) -> bool:
    if message.urls:
        return True
    words = set(_WORDISH.findall(f"{message.subject[:500]} {message.text[:5000]}".lower()))
    return len(words) >= MIN_WORDS


def head_score(p: float, threshold: float, low: float, high: float) -> float:
    """Policy score of one head: 0 below the threshold, ``low`` at it, ``high`` at p = 1."""
    if p < threshold:
        return 0.0
    if threshold >= 1.0:
        return high
    return low + (high - low) * (p - threshold) / (1.0 - threshold)


def describe(score: HeadScore, version: str) -> str:
    top = " ".join(f"{name}+{weight:.2f}" for name, weight in score.top)
    return f"p={score.probability:.3f} t={score.threshold:.3f} model={version} top: {top}"


class TextModelCheck:
    name = "text_model"

    def __init__(self, model: TextModel, settings: ModelSettings):
        self.model = model
        self.settings = settings
        self.thresholds = {
            head: (override if override is not None else model.heads[head].threshold)
            for head, override in (("spam", settings.spam_threshold), ("phish", settings.phish_threshold))
            if head in model.heads
        }

    def evaluate(self, ctx: ScanContext) -> Iterable[Hit]:
        if ctx.direction != INBOUND and not self.settings.outbound:
            return []
        if not enough_text(ctx.message):
            ctx.notes["text_model"] = {"version": self.model.version, "skipped": "too little text"}
            return []
        txn = ctx.txn
        arrival = arrival_hop(txn.client_ip, txn.client_name, txn.helo, bool(txn.auth_user))
        scores = self.model.score(ctx.message, top=self.settings.top_features, arrival=arrival)
        ctx.notes["text_model"] = {"version": self.model.version,
                                   **{h: round(s.probability, 4) for h, s in scores.items()}}
        # Asked only when a head would hit: most mail is under both thresholds.
        foreign = (any(s.probability >= self.thresholds[h] for h, s in scores.items())
                   and other_language(ctx.message))
        if foreign:
            ctx.notes["text_model"]["language"] = "other"
        hits = []
        for head, score in scores.items():
            score.threshold = self.thresholds[head]
            if foreign:
                score.threshold = max(score.threshold, self.settings.other_language_threshold)
            low = getattr(self.settings, f"{head}_score")
            high = getattr(self.settings, f"{head}_score_max")
            points = head_score(score.probability, score.threshold, low, high)
            if points > 0:
                detail = describe(score, self.model.version) + (" (not English)" if foreign else "")
                hits.append(Hit(HIT_IDS[head], points, detail=detail, kind="model"))
        return hits


def build_text_check(settings: ModelSettings) -> TextModelCheck:
    """Load the configured model version; ConfigError if it cannot be used."""
    store = ModelStore(settings.directory)
    try:
        model = store.load(settings.version)
    except ModelError as exc:
        raise ConfigError(f"models: {exc}") from None
    if store.fallback:
        log.warning("models: %s", store.fallback)
    return TextModelCheck(model, settings)
