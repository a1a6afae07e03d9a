"""Body matchers: the text as the models see it, the text as written, raw body, hidden text, size.

``body`` is the decoded text of all text parts (HTML rendered to text) exactly as the text
models see it (``postwarden.classifiers.normalize``): entities decoded, NFKC, invisible
characters removed, look-alike letters folded (Cyrillic ``Vіаgrа`` is ``viagra``), letter
spacing joined (``v i a g r a``), case folded and every digit read as ``0``, so a rule cannot be
dodged by the tricks the models see through. For numbers or exact strings use ``body_text``:
the same decoded text with only NFKC, invisible characters removed and whitespace runs made one
space (case and digits kept). ``raw_body`` is the body as transmitted (base64, QP and all).

    - body: {regex: 'wire\\s+transfer'}
    - body_text: {regex: 'invoice\\s+#\\d{6}'}
    - raw_body: {contains: 'X-Mailer-Trick'}
    - hidden_text: {regex: '\\w{200}'}     # text hidden in HTML (display:none, tiny fonts)
    - size: {min: 10485760}
"""

from __future__ import annotations

from postwarden.rules.facts import Facts
from postwarden.rules.registry import value_matcher

FAMILY = "body"


@value_matcher("body", FAMILY, "text", "The decoded text as the text models see it (look-alikes folded, "
               "letter spacing joined, case folded, digits as 0).", multi=False)
def _body(facts: Facts) -> list[str]:
    return [facts.body_as_models_see_it]


@value_matcher("body_text", FAMILY, "text", "The decoded text as written (NFKC, invisible characters "
               "removed, whitespace collapsed; case and digits kept).", multi=False)
def _body_text(facts: Facts) -> list[str]:
    return [facts.body_text]


@value_matcher("raw_body", FAMILY, "text", "The body as transmitted (first max_scan_bytes bytes).",
               multi=False)
def _raw_body(facts: Facts) -> list[str]:
    return [facts.raw_body]


@value_matcher("hidden_text", FAMILY, "text", "Text an HTML part hides from the reader.", multi=False)
def _hidden(facts: Facts) -> list[str]:
    return [facts.message.hidden_text] if facts.message.hidden_text else []


@value_matcher("size", FAMILY, "number", "Size of the whole message in bytes.", multi=False)
def _size(facts: Facts) -> list[int]:
    return [facts.size]
