"""Where the shipped default rule pack lives, in a checkout and in an installed package.

The pack's source is the top-level ``rules/`` directory of the repository, the one operators
read and copy. The package reaches it as package data at ``postwarden/data/rules`` (a symlink
to ``../../rules`` in the checkout, real files in a built wheel), so ``rules.directory: null``
means "the pack this version of postwarden shipped" wherever it is installed.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_PACK = Path(__file__).resolve().parent.parent / "data" / "rules"
CHECKOUT_PACK = Path(__file__).resolve().parent.parent.parent / "rules"


def default_rules_dir() -> Path:
    """The shipped pack: package data when present, else the checkout's ``rules/``."""
    return PACKAGE_PACK if PACKAGE_PACK.is_dir() else CHECKOUT_PACK
