from __future__ import annotations

import pytest

from postwarden.classifiers.features import FeaturiserSettings
from postwarden.classifiers.model_file import TextModel
from postwarden.classifiers.split import bucket
from postwarden.classifiers.training import Example, train_model
from postwarden.message import parse_message

from .samples import synthetic_corpus

SMALL = FeaturiserSettings(n_bits=16)


def examples_of(corpus: dict[str, list[bytes]], settings: FeaturiserSettings = SMALL) -> list[Example]:
    from postwarden.classifiers.features import Featuriser

    featuriser = Featuriser(settings)
    out = []
    for label, messages in corpus.items():
        for i, raw in enumerate(messages):
            vector = featuriser.transform(parse_message(raw))
            out.append(Example(f"{label}#{i}", f"synthetic-{label}", label, bucket(raw),
                               vector.indices, vector.values))
    return out


@pytest.fixture(scope="session")
def corpus() -> dict[str, list[bytes]]:
    return synthetic_corpus()


@pytest.fixture(scope="session")
def small_model(corpus: dict[str, list[bytes]]) -> TextModel:
    """A model trained in well under a second on synthetic mail."""
    return train_model(examples_of(corpus), SMALL, C=10.0, version="synthetic-1")
