"""Compiling one rule file: typed option readers and value tests that locate every problem.

Matchers never read YAML themselves. They ask the Builder for an option of a type; a wrong
type, an unknown option, a regex that does not compile or a missing list file becomes one
Problem naming the file, the line, the rule id and the dotted key, and compiling goes on, so
one run reports every mistake of every file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import re2
import yaml

from postwarden.rules.domains import DomainList, in_domains, is_domain
from postwarden.rules.lists import AddressSet, ListStore, NetworkIndex, build_container, parse_entry
from postwarden.rules.regex import BankedRegex, RegexBank
from postwarden.schema import Problem, line_of, scalar_value

if TYPE_CHECKING:
    from postwarden.rules.dns import DnsLists

ValueTest = Callable[[Any], bool]

# The tests each kind of value offers; a matcher adds its own options (name, mode, ...).
TEST_KEYS: dict[str, tuple[str, ...]] = {
    "text": ("equals", "contains", "regex", "in", "list", "case_sensitive"),
    "domain": ("equals", "regex", "in", "list", "local"),
    "address": ("equals", "regex", "in", "list"),
    "ip": ("in", "list"),
    "number": ("min", "max"),
    "extension": ("in", "list"),
}
_LIST_KIND = {"text": "text", "domain": "domain", "address": "address", "ip": "ip",
              "extension": "extension"}


@dataclass(frozen=True)
class Env:
    """What rules need from outside the rules directory."""

    local_domains: frozenset[str] = frozenset()
    dns: DnsLists | None = None
    trusted_authserv_ids: frozenset[str] = frozenset()  # whose Authentication-Results count


def describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        value = scalar_value(node)
        return "null" if value is None else f"{type(value).__name__} {value!r}"
    return "a mapping" if isinstance(node, yaml.MappingNode) else "a list"


class Builder:
    """Problem collection and typed option reading for one rule file."""

    def __init__(self, filename: str, base_dir: Path, lists: ListStore, env: Env,
                 problems: list[Problem], bank: RegexBank | None = None):
        self.bank = bank if bank is not None else RegexBank()
        self.filename = filename
        self.base_dir = base_dir
        self.lists = lists
        self.env = env
        self.problems = problems
        self.rule_id = ""

    # -- problems -----------------------------------------------------------------------------
    def problem(self, node: yaml.Node | None, key: str, message: str) -> None:
        where = f"rule {self.rule_id}: {key}" if self.rule_id else key
        self.problems.append(Problem(self.filename, line_of(node) if node else 0, where, message))

    # -- shapes -------------------------------------------------------------------------------
    def mapping(self, node: yaml.Node, key: str) -> dict[str, yaml.Node] | None:
        """Keys to value nodes; duplicate or non-string keys are problems."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, key, f"expected a mapping, got {describe(node)}")
            return None
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            name = scalar_value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(name, str):
                self.problem(key_node, key, f"expected string keys, got {describe(key_node)}")
                continue
            if name in out:
                self.problem(key_node, f"{key}.{name}" if key else name, "key given twice")
                continue
            out[name] = value_node
        return out

    @staticmethod
    def key_node(node: yaml.Node, name: str) -> yaml.Node:
        """The node of key ``name`` in a mapping node (for the line of an unknown key)."""
        for key_node, _ in getattr(node, "value", []):
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == name:
                return key_node
        return node

    def options(self, node: yaml.Node, key: str, matcher: str,
                allowed: tuple[str, ...]) -> dict[str, yaml.Node] | None:
        """The options of a matcher; an unknown one names the matcher and what is allowed."""
        return self.keys(node, key, f"option for matcher {matcher}", allowed)

    def keys(self, node: yaml.Node, key: str, what: str, allowed: tuple[str, ...]
             ) -> dict[str, yaml.Node] | None:
        opts = self.mapping(node, key)
        if opts is None:
            return None
        good = True
        for name in opts:
            if name not in allowed:
                self.problem(self.key_node(node, name), f"{key}.{name}" if key else name,
                             f"unknown {what} (allowed: {', '.join(allowed)})")
                good = False
        return opts if good else None

    def string(self, node: yaml.Node, key: str) -> str | None:
        value = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            self.problem(node, key, f"expected a string, got {describe(node)}")
            return None
        return value if isinstance(value, str) else node.value  # type: ignore[union-attr]

    def boolean(self, node: yaml.Node, key: str) -> bool | None:
        value = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, bool):
            self.problem(node, key, f"expected true or false, got {describe(node)}")
            return None
        return value

    def number(self, node: yaml.Node, key: str) -> float | None:
        value = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(node, key, f"expected a number, got {describe(node)}")
            return None
        return float(value)

    def strings(self, node: yaml.Node, key: str) -> list[str] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, key, f"expected a list of strings, got {describe(node)}")
            return None
        out = [self.string(item, f"{key}[{i}]") for i, item in enumerate(node.value)]
        return None if any(v is None for v in out) else out  # type: ignore[return-value]

    def choice(self, node: yaml.Node, key: str, choices: tuple[str, ...]) -> str | None:
        value = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
        if value not in choices:
            self.problem(node, key, f"expected one of {', '.join(choices)}, got {describe(node)}")
            return None
        return value  # type: ignore[return-value]

    def mode(self, opts: dict[str, yaml.Node], key: str) -> str | None:
        """Pop the optional ``mode`` (any or all of the values must pass); default any."""
        if "mode" not in opts:
            return "any"
        return self.choice(opts.pop("mode"), f"{key}.mode", ("any", "all"))

    def regex(self, node: yaml.Node, key: str, case_sensitive: bool) -> BankedRegex | None:
        """A compiled regex, searched with the rule set's others in one pass (RegexBank)."""
        pattern = self.string(node, key)
        if pattern is None:
            return None
        regex, error = self.bank.add(pattern, case_sensitive)
        if regex is None:
            self.problem(node, key, f"regex does not compile ({error}); RE2 syntax, no look-around "
                                    "or back-references")
        return regex

    def list_file(self, node: yaml.Node, key: str, kind: str, case_sensitive: bool = False) -> Any:
        """The container of a list file named relative to this rule file."""
        name = self.string(node, key)
        if name is None:
            return None
        path = (self.base_dir / name)
        if not path.is_file():
            self.problem(node, key, f"list file not found: {name} (looked for {path})")
            return None
        loaded = self.lists.load(path, kind, case_sensitive, self.problems)
        return loaded.container if loaded else None

    def inline_list(self, node: yaml.Node, key: str, kind: str, case_sensitive: bool = False) -> Any:
        items = self.strings(node, key)
        if items is None:
            return None
        values = []
        for i, item in enumerate(items):
            value, expected = parse_entry(kind, item.strip(), case_sensitive)
            if value is None:
                self.problem(node.value[i], f"{key}[{i}]", f"{expected}, got {item!r}")
                return None
            values.append(value)
        return build_container(kind, values)

    # -- value tests --------------------------------------------------------------------------
    def value_test(self, kind: str, opts: dict[str, yaml.Node], key: str, matcher: str,
                   where: yaml.Node | None = None) -> ValueTest | None:
        """The one test the options ask for (exactly one of the kind's test keys).

        ``where`` (the matcher's node) locates a problem when the options are empty.
        """
        self._where = where
        if kind == "number":
            return self._number_test(opts, key, matcher)
        tests = [name for name in TEST_KEYS[kind] if name in opts and name != "case_sensitive"]
        if len(tests) != 1:
            choices = ", ".join(n for n in TEST_KEYS[kind] if n != "case_sensitive")
            found = f"got {', '.join(tests)}" if tests else "got none"
            self.problem(self._first(opts), key, f"matcher {matcher} needs exactly one of {choices}; "
                                                 f"{found}")
            return None
        name = tests[0]
        node = opts[name]
        sub = f"{key}.{name}"
        case_sensitive = False
        if "case_sensitive" in opts:
            flag = self.boolean(opts["case_sensitive"], f"{key}.case_sensitive")
            if flag is None:
                return None
            case_sensitive = flag
        if name == "regex":
            regex = self.regex(node, sub, case_sensitive)
            return None if regex is None else regex.search
        if name == "local":
            wanted = self.boolean(node, sub)
            if wanted is None:
                return None
            local = self.env.local_domains
            return lambda v: in_domains(v, local) == wanted
        if name in ("in", "list"):
            list_kind = _LIST_KIND[kind]
            container = (self.inline_list(node, sub, list_kind, case_sensitive) if name == "in"
                         else self.list_file(node, sub, list_kind, case_sensitive))
            if container is None:
                return None
            return _membership(kind, container, case_sensitive)
        text = self.string(node, sub)
        if text is None:
            return None
        if name == "contains":
            literal, _ = self.bank.add(re2.escape(text), case_sensitive)
            return literal.search if literal else None
        if kind == "domain":
            wanted_domain = text.lower().rstrip(".")
            if not is_domain(wanted_domain):
                self.problem(node, sub, f"expected a domain name such as example.com, got {text!r}")
                return None
            return lambda v: v == wanted_domain
        if case_sensitive:
            return lambda v: v == text
        folded = text.lower()
        return lambda v: v.lower() == folded

    def _number_test(self, opts: dict[str, yaml.Node], key: str, matcher: str) -> ValueTest | None:
        if "min" not in opts and "max" not in opts:
            self.problem(self._first(opts), key, f"matcher {matcher} needs min and/or max")
            return None
        low = self.number(opts["min"], f"{key}.min") if "min" in opts else float("-inf")
        high = self.number(opts["max"], f"{key}.max") if "max" in opts else float("inf")
        if low is None or high is None:
            return None
        if low > high:
            self.problem(opts["min"], key, f"expected min <= max, got {low:g} > {high:g}")
            return None
        return lambda v: low <= v <= high

    def _first(self, opts: dict[str, yaml.Node]) -> yaml.Node | None:
        return next(iter(opts.values()), None) or getattr(self, "_where", None)


def _membership(kind: str, container: Any, case_sensitive: bool) -> ValueTest:
    if kind == "domain":
        return DomainList(container)
    if kind == "ip":
        index: NetworkIndex = container
        return lambda v: v in index
    if kind == "address":
        addresses: AddressSet = container
        return lambda v: v in addresses
    if case_sensitive or kind == "extension":
        return lambda v: v in container
    return lambda v: v.lower() in container
