"""`postwarden check-rules [DIR]`: validate rules with the daemon's own loader.

Exit 0 with a summary (files, rules, lists, entries) when everything loads; exit 1 with one
``file:line: rule ID: key: what was expected`` line per problem otherwise. Without DIR the
directories of the configuration are checked (the shipped pack and rules.local_directory).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from postwarden.config import Config
from postwarden.rules.check import load_configured_rules, rules_directories
from postwarden.rules.loader import RulesError
from postwarden.rules.registry import all_matchers


def check_rules(config: Config, directory: str | None, out: TextIO | None = None,
                err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    directories = [Path(directory)] if directory else rules_directories(config)
    try:
        ruleset = load_configured_rules(config, directories)
    except RulesError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        print(f"postwarden: {len(exc.problems)} problem(s) in {', '.join(map(str, directories))}",
              file=err)
        return 1
    print(f"{', '.join(map(str, directories))}: {ruleset.summary()}: ok", file=out)
    return 0


def list_matchers(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    family = ""
    for matcher in all_matchers():
        if matcher.family != family:
            family = matcher.family
            print(f"{family}:", file=out)
        print(f"  {matcher.name} ({matcher.kind}; {', '.join(matcher.options)})", file=out)
        print(f"      {matcher.doc}", file=out)
    return 0
