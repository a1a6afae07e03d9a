"""Whether a message is written in English, the only language of the models' training mail.

The shipped models learnt from the SpamAssassin corpus, the Enron mail and Nazario's phishing:
English, but for a little foreign-language spam. For a message in another language most of its
words carry no weight, and what is left (a few short words that foreign spam of 2002 had, the
intercept) is not evidence: an ordinary French or Portuguese business message scored 0.4-0.5 as
spam. Measuring that needs no language identifier: English prose is about a fifth function words
(the, and, to, you ...), while French, Spanish, Portuguese, Italian, German, Dutch, Danish or
Polish prose has next to none, and Chinese, Japanese or Korean none at all. The test split of the
corpora puts about 2 percent of English mail under the 3 percent mark as well (short forwards,
tables, link lists, bodies that cannot be decoded): for those the raised threshold only means
fewer verdicts (BENCHMARKS.md, `scripts/eval_language.py`).
"""

from __future__ import annotations

import re

from postwarden.message import ParsedMessage

# Frequent English function words, leaving out those that are just as common in another language
# of Western Europe ("a", "in", "of", "is", "we", "was", "die", "me", "so", "for"). A few kept ones
# occur elsewhere ("will", "to", "or"), rarely enough to stay far under the 3 percent.
ENGLISH_WORDS = frozenset((
    "the", "and", "to", "you", "that", "it", "with", "this", "be", "are", "your", "have", "will",
    "not", "from", "or", "by", "our", "can", "if", "all", "my", "but", "they", "she", "his",
    "their", "them", "there", "what", "which", "when", "who", "would", "could", "should", "been",
    "had", "were", "about", "more", "just", "get", "out", "any", "also", "us", "here", "how",
))
MIN_WORDS = 12  # fewer is too short to tell
OTHER_LANGUAGE_SHARE = 0.03
_WORD = re.compile(r"[^\W\d_]{1,30}")


def english_share(message: ParsedMessage) -> float | None:
    """Share of the first words of subject and text that are English function words; None
    when there are fewer than ``MIN_WORDS`` words to judge by."""
    words = _WORD.findall(f"{message.subject[:300]} {message.text[:1500]}".lower())
    if len(words) < MIN_WORDS:
        return None
    return sum(word in ENGLISH_WORDS for word in words) / len(words)


def is_other_language(share: float | None) -> bool:
    """Whether an ``english_share`` says the message is not written in English."""
    return share is not None and share < OTHER_LANGUAGE_SHARE


def other_language(message: ParsedMessage) -> bool:
    """True for a message long enough to tell that is not written in English."""
    return is_other_language(english_share(message))
