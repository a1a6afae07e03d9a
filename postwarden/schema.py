"""Validate YAML documents against frozen dataclasses, keeping file and line for every error.

Operators edit these files by hand, so an error must point at the exact spot: the file, the
line and the dotted key, and say what was expected. All errors of a document are collected in
one pass instead of stopping at the first, so one edit-reload cycle fixes them all.

A dataclass field may carry ``metadata={"doc": ..., "check": fn}``; ``check(value)`` returns an
error text or ``None``. Supported field types: ``str``, ``int``, ``float``, ``bool``,
``list[str]``, ``dict[str, float]``, ``X | None``, ``Literal[...]`` and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document, located for the operator."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class SchemaError(Exception):
    """Raised with every problem found in a document."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def setting(default: Any, doc: str, check: Callable[[Any], str | None] | None = None) -> Any:
    """Declare a documented dataclass field with an optional value check."""
    metadata = {"doc": doc, "check": check}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    if dataclasses.is_dataclass(default):
        return field(default_factory=type(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def compose(text: str, filename: str) -> yaml.Node | None:
    """Parse YAML text into a node tree; a syntax error becomes a located Problem."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else 0
        raise SchemaError([Problem(filename, line, "", f"YAML syntax error: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise SchemaError([Problem(filename, 0, "", f"YAML error: {exc}")]) from None


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def scalar_value(node: yaml.ScalarNode) -> Any:
    """Resolve a scalar node the way yaml.safe_load would."""
    return yaml.SafeLoader(yaml.serialize(node)).get_single_data()


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        value = scalar_value(node)
        return f"{type(value).__name__} {value!r}" if value is not None else "null"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    return "a list"


class Validator:
    """Walks a node tree against a dataclass, collecting problems."""

    def __init__(self, filename: str):
        self.filename = filename
        self.problems: list[Problem] = []

    def problem(self, node: yaml.Node | None, key: str, message: str) -> None:
        self.problems.append(Problem(self.filename, line_of(node) if node else 0, key, message))

    def build(self, cls: type[T], node: yaml.Node | None, prefix: str = "") -> T:
        """Return an instance of ``cls`` from a mapping node (defaults where keys are absent)."""
        if node is None or (isinstance(node, yaml.ScalarNode) and scalar_value(node) is None):
            return cls()
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, prefix or "(top level)", f"expected a mapping, got {_describe(node)}")
            return cls()
        hints = get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = scalar_value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            dotted = f"{prefix}.{key}" if prefix else str(key)
            if key not in fields:
                allowed = ", ".join(sorted(fields))
                self.problem(key_node, dotted, f"unknown key (allowed here: {allowed})")
                continue
            if key in values:
                self.problem(key_node, dotted, "key given twice")
                continue
            ok, value = self.convert(hints[key], value_node, dotted)
            if not ok:
                continue
            check = fields[key].metadata.get("check")
            message = check(value) if check else None
            if message:
                self.problem(value_node, dotted, message)
                continue
            values[key] = value
        return cls(**values)

    def convert(self, hint: Any, node: yaml.Node, key: str) -> tuple[bool, Any]:
        origin = get_origin(hint)
        args = get_args(hint)
        if origin in (typing.Union, types.UnionType):
            inner = [a for a in args if a is not type(None)]
            if isinstance(node, yaml.ScalarNode) and scalar_value(node) is None:
                return True, None
            return self.convert(inner[0], node, key)
        if dataclasses.is_dataclass(hint):
            before = len(self.problems)
            value = self.build(hint, node, key)  # type: ignore[arg-type]
            return len(self.problems) == before, value
        if origin is Literal:
            if isinstance(node, yaml.ScalarNode) and scalar_value(node) in args:
                return True, scalar_value(node)
            choices = ", ".join(repr(a) for a in args)
            self.problem(node, key, f"expected one of {choices}, got {_describe(node)}")
            return False, None
        if origin is list:
            if not isinstance(node, yaml.SequenceNode):
                self.problem(node, key, f"expected a list, got {_describe(node)}")
                return False, None
            items = []
            good = True
            for i, item in enumerate(node.value):
                ok, value = self.convert(args[0], item, f"{key}[{i}]")
                good &= ok
                items.append(value)
            return good, items
        if origin is dict:
            if not isinstance(node, yaml.MappingNode):
                self.problem(node, key, f"expected a mapping, got {_describe(node)}")
                return False, None
            result = {}
            good = True
            for key_node, value_node in node.value:
                name = scalar_value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(name, str):
                    self.problem(key_node, key, f"expected string keys, got {_describe(key_node)}")
                    good = False
                    continue
                ok, value = self.convert(args[1], value_node, f"{key}.{name}")
                good &= ok
                result[name] = value
            return good, result
        return self.convert_scalar(hint, node, key)

    def convert_scalar(self, hint: Any, node: yaml.Node, key: str) -> tuple[bool, Any]:
        names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, key, f"expected {names.get(hint, hint)}, got {_describe(node)}")
            return False, None
        value = scalar_value(node)
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return True, float(value)
        if hint is str and isinstance(value, int | float) and not isinstance(value, bool):
            # An octal-looking mode such as 0660 should stay the text the operator typed.
            return True, node.value
        if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
            return True, value
        self.problem(node, key, f"expected {names.get(hint, hint)}, got {_describe(node)}")
        return False, None


def load_dataclass(cls: type[T], text: str, filename: str) -> T:
    """Validate a YAML document against ``cls``; raise SchemaError listing every problem."""
    node = compose(text, filename)
    validator = Validator(filename)
    value = validator.build(cls, node)
    if validator.problems:
        raise SchemaError(validator.problems)
    return value


def documented_fields(cls: type) -> dict[str, str]:
    """Map dotted setting names to their doc strings, for docs and drift tests."""
    out: dict[str, str] = {}
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            for sub, doc in documented_fields(hint).items():  # type: ignore[arg-type]
                out[f"{f.name}.{sub}"] = doc
        else:
            out[f.name] = f.metadata.get("doc", "")
    return out
