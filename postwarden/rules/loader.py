"""Loading a rules directory: files in name order, includes, rule fields, duplicate ids.

Every ``*.yaml``/``*.yml`` file directly in a rules directory loads, in name order
(``00-gtube.yaml`` before ``10-attachments.yaml``); a file may ``include`` others (relative to
itself; keep them in a subdirectory so they are not loaded twice). A second directory (the
operator's ``rules.local_directory``) loads after the first; there a rule with
``override: true`` changes fields of an earlier rule of the same id (``enabled: false`` turns a
shipped rule off) and keeps its place in the evaluation order.

A file::

    include: [extra/more.yaml]        # optional
    rules:
      - id: FREEMAIL_REPLY_TO         # unique; letters, digits, _ . -
        description: Reply-To at a freemail provider on mail from a company domain
        direction: inbound            # inbound, outbound or any (default)
        score: 3.0                    # and/or action: accept, reject, quarantine, tempfail, discard
        reply: Text after 550 5.7.1   # with action reject or tempfail
        tags: [phishing]
        shadow: false                 # true: evaluated and reported, never changes the verdict
        enabled: true
        match: {...}                  # see postwarden.rules.compile

Problems of every file are collected in one pass and raised together as RulesError.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from postwarden.rules.build import Builder, Env, describe
from postwarden.rules.compile import compile_condition
from postwarden.rules.lists import ListStore
from postwarden.rules.model import ACTIONS, DIRECTIONS, Rule, RuleSet
from postwarden.rules.regex import RegexBank
from postwarden.schema import Problem, SchemaError, compose, line_of
from postwarden.verdict import Action

FILE_KEYS = ("include", "rules")
RULE_KEYS = ("id", "description", "enabled", "direction", "score", "action", "reply", "tags",
             "shadow", "match", "override")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class RulesError(Exception):
    """Rules that cannot be used; ``problems`` are located (file, line, rule id, key)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def check_reply(text: str) -> str | None:
    if "%" in text:
        return "a '%' in SMTP reply text makes libmilter drop the reply; write 'percent'"
    if not text.isascii() or any(c in text for c in "\r\n") or not text.strip():
        return "expected printable ASCII on one line"
    return None


class _Loader:
    def __init__(self, env: Env):
        self.env = env
        self.problems: list[Problem] = []
        self.lists = ListStore()
        self.rules: list[Rule] = []
        self.index: dict[str, int] = {}
        self.seen: dict[str, str] = {}  # every id defined, compiled or not, for duplicate errors
        self.files: list[str] = []
        self.loaded: set[Path] = set()
        self.bank = RegexBank()

    def directory(self, directory: Path) -> None:
        if not directory.is_dir():
            self.problems.append(Problem(str(directory), 0, "", "rules directory not found"))
            return
        for path in sorted(p for p in directory.iterdir()
                           if p.suffix in (".yaml", ".yml") and p.is_file()):
            self.file(path, None, "")

    def file(self, path: Path, from_node: yaml.Node | None, from_file: str) -> None:
        resolved = path.resolve()
        if resolved in self.loaded:
            if from_node is not None:
                self.problems.append(Problem(from_file, line_of(from_node), "include",
                                             f"{path} is already loaded (files directly in a rules "
                                             "directory load by themselves; keep included files in a "
                                             "subdirectory)"))
            return
        self.loaded.add(resolved)
        filename = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(Problem(filename, 0, "", f"cannot read: {exc}"))
            return
        try:
            root = compose(text, filename)
        except SchemaError as exc:
            self.problems.extend(exc.problems)
            return
        self.files.append(filename)
        b = Builder(filename, path.parent, self.lists, self.env, self.problems, self.bank)
        if root is None:
            return
        top = b.keys(root, "(top level)", "key in a rules file", FILE_KEYS) if isinstance(
            root, yaml.MappingNode) else None
        if top is None:
            if not isinstance(root, yaml.MappingNode):
                b.problem(root, "(top level)", f"expected a mapping with rules: [...], got {describe(root)}")
            return
        if "include" in top:
            names = b.strings(top["include"], "include")
            for i, name in enumerate(names or []):
                target = path.parent / name
                item = top["include"].value[i]  # type: ignore[attr-defined]
                if not target.is_file():
                    b.problem(item, f"include[{i}]", f"file not found: {name} (looked for {target})")
                    continue
                self.file(target, item, filename)
        if "rules" in top:
            node = top["rules"]
            if not isinstance(node, yaml.SequenceNode):
                b.problem(node, "rules", f"expected a list of rules, got {describe(node)}")
                return
            for i, item in enumerate(node.value):
                self.rule(b, item, i)

    def rule(self, b: Builder, node: yaml.Node, index: int) -> None:
        b.rule_id = ""
        if not isinstance(node, yaml.MappingNode):
            b.problem(node, f"rules[{index}]", f"expected a rule (a mapping with id, description, "
                                               f"match, ...), got {describe(node)}")
            return
        id_node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == "id"), None)
        if id_node is None:
            b.problem(node, f"rules[{index}]", "a rule needs an id")
            return
        rule_id = b.string(id_node, "id")
        if rule_id is None:
            return
        b.rule_id = rule_id  # from here on every problem names the rule
        fields = b.keys(node, "", "key", RULE_KEYS)
        if fields is None:
            return
        if not _ID.match(rule_id):
            b.problem(fields["id"], "id", "expected letters, digits, '_', '.' or '-' (at most 64), "
                                          f"got {rule_id!r}")
            return
        override = False
        if "override" in fields:
            override = bool(b.boolean(fields["override"], "override"))
        duplicate = not override and rule_id in self.seen
        if duplicate:
            b.problem(fields["id"], "id", f"duplicate id {rule_id} (first defined at "
                                          f"{self.seen[rule_id]}); use override: true in a later "
                                          "file to change it")
        elif not override:
            self.seen[rule_id] = f"{b.filename}:{line_of(node)}"
        values = self.fields(b, fields, override)
        if values is None or duplicate:
            return
        existing = self.index.get(rule_id)
        if override:
            if existing is None:
                b.problem(fields["override"], "override", f"no earlier rule with id {rule_id} to override")
                return
            old = self.rules[existing]
            new = dataclasses.replace(old, **values, file=b.filename, line=line_of(node))
            if new.reply and new.action not in (Action.REJECT, Action.TEMPFAIL):
                b.problem(fields.get("reply", node), "reply", "a reply is only sent with action reject "
                                                              "or tempfail")
                return
            self.rules[existing] = new
            return
        self.index[rule_id] = len(self.rules)
        self.rules.append(Rule(id=rule_id, file=b.filename, line=line_of(node), **values))

    def fields(self, b: Builder, fields: dict[str, yaml.Node], override: bool) -> dict[str, Any] | None:
        """Typed values of the given fields (without id/override); None when any is wrong."""
        before = len(self.problems)
        out: dict[str, Any] = {}
        if not override:
            for required in ("description", "match"):
                if required not in fields:
                    b.problem(fields["id"], required, f"a rule needs {required}")
            if "score" not in fields and "action" not in fields:
                b.problem(fields["id"], "score", "a rule needs a score and/or an action")
        if "description" in fields:
            out["description"] = b.string(fields["description"], "description")
        for name in ("enabled", "shadow"):
            if name in fields:
                out[name] = b.boolean(fields[name], name)
        if "direction" in fields:
            out["direction"] = b.choice(fields["direction"], "direction", DIRECTIONS)
        if "score" in fields:
            out["score"] = b.number(fields["score"], "score")
        if "action" in fields:
            name = b.choice(fields["action"], "action", tuple(ACTIONS))
            out["action"] = ACTIONS.get(name) if name else None
        if "reply" in fields:
            text = b.string(fields["reply"], "reply")
            message = check_reply(text) if text is not None else None
            if message:
                b.problem(fields["reply"], "reply", message)
            # (an override is checked against the merged rule instead; a bad action was reported)
            elif text is not None and not override and ("action" not in fields or (
                    out["action"] is not None and out["action"] not in (Action.REJECT, Action.TEMPFAIL))):
                b.problem(fields["reply"], "reply", "a reply is only sent with action reject or tempfail")
            out["reply"] = text
        if "tags" in fields:
            tags = b.strings(fields["tags"], "tags")
            out["tags"] = tuple(tags) if tags is not None else None
        if "match" in fields:
            out["predicate"] = compile_condition(b, fields["match"], "match")
        if len(self.problems) > before or any(v is None for v in out.values()):
            return None
        return out


def load_rules(directories: Sequence[str | Path], env: Env | None = None) -> RuleSet:
    """Load and compile every rule of ``directories`` (in order); raise RulesError when any is wrong."""
    loader = _Loader(env or Env())
    for directory in directories:
        loader.directory(Path(directory))
    if loader.problems:
        raise RulesError(loader.problems)
    loader.bank.freeze()
    return RuleSet(rules=loader.rules, files=loader.files, lists=len(loader.lists.files),
                   list_entries=loader.lists.entries)
