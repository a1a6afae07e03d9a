"""The evaluation replay of a sent-mail corpus, computed once and cached for training and evaluation."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from postwarden.misdirection import evaluate
from postwarden.misdirection.corpus import SentMessage, by_mailbox
from postwarden.misdirection.features import NAMES
from postwarden.sources import read_messages

# Named by the replay's version and the number of features, so a replay made by other code or for
# other features is not picked up. Version 2: export-artefact addresses dropped, `invalid` kept.
# Version 3: a local part's two strongest addresses, not the latest (88 lookalike rows differ).
# Version 4: index entries also rewritten on an address's first use in each quarter-horizon.
REPLAY_VERSION = 4
DEFAULT_CACHE = f"/tmp/postwarden-misdirection-rows-v{REPLAY_VERSION}-{len(NAMES)}.npz"


def load_boxes(paths: list[str]) -> dict[str, list[SentMessage]]:
    return by_mailbox(read_messages(paths))


def load_rows(paths: list[str], cache: str | None) -> tuple[dict[str, np.ndarray], list[str]]:
    """Rows of the replay of every mailbox in ``paths``, from ``cache`` when it is there."""
    if cache and os.path.exists(cache):
        data = dict(np.load(cache, allow_pickle=False))
        if data["x"].shape[1] != len(NAMES) or "invalid" not in data:
            raise SystemExit(f"{cache} holds a replay of other code or features; "
                             "remove it or pass another --cache")
        return data, sorted(set(data["user"].tolist()))
    started = time.time()
    boxes = load_boxes(paths)
    rows = evaluate.collect(boxes, sorted(boxes))
    data = rows.arrays()
    print(f"replayed {len(boxes)} mailboxes in {time.time() - started:.0f}s: {dict(rows.messages)}, "
          f"skipped {dict(rows.skipped)}", file=sys.stderr)
    if cache:
        np.savez_compressed(cache, **data)
    return data, sorted(boxes)
