"""A compiled rule: what it tests (a predicate) and what a hit does (score, action, reply)."""

from __future__ import annotations

from dataclasses import dataclass, field

from postwarden.rules.registry import Predicate
from postwarden.verdict import Action

DIRECTIONS = ("inbound", "outbound", "any")
ACTIONS = {a.value: a for a in Action}


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    predicate: Predicate
    score: float = 0.0
    action: Action | None = None
    reply: str = ""
    direction: str = "any"
    enabled: bool = True
    shadow: bool = False
    tags: tuple[str, ...] = ()
    file: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def applies_to(self, direction: str) -> bool:
        return self.direction == "any" or self.direction == direction


@dataclass
class RuleSet:
    """Rules in evaluation order (file name order, then order in the file), disabled included."""

    rules: list[Rule] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    lists: int = 0
    list_entries: int = 0

    @property
    def enabled(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled]

    def summary(self) -> str:
        disabled = sum(not r.enabled for r in self.rules)
        shadow = sum(r.shadow and r.enabled for r in self.rules)
        return (f"{len(self.files)} file(s), {len(self.rules)} rule(s) ({disabled} disabled, "
                f"{shadow} shadow), {self.lists} list(s), {self.list_entries} list entries")
