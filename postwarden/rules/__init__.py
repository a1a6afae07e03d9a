"""The YAML rule layer operators write: load, validate, compile, match.

``load_rules(directories)`` gives a RuleSet or raises RulesError with every problem located;
``build_rules_check(config)`` makes the engine Check of a configuration. The language is
documented where it is implemented: files and rule fields in ``loader``, conditions in
``compile``, list files in ``lists``, each matcher family in ``matchers/`` (and
`postwarden check-rules --matchers` prints them all).
"""

from postwarden.rules.check import RulesCheck, build_rules_check
from postwarden.rules.counters import RULE_HITS
from postwarden.rules.loader import RulesError, load_rules
from postwarden.rules.model import Rule, RuleSet

__all__ = ["RULE_HITS", "Rule", "RuleSet", "RulesCheck", "RulesError", "build_rules_check", "load_rules"]
