"""The protocol schema, written as data: small validator objects composed into a
tree. ``check(value, where)`` returns the resolved value (quantities as OpenMM
Quantities, defaults filled in) or raises :class:`SchemaViolation` naming the key path.

:func:`to_data` turns a resolved value back into plain YAML/JSON data (quantities as
canonical strings such as ``"0.004 ps"``); checking that data again gives the same value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openmm.unit as u

from rankbind.errors import ProtocolError, SelectionError
from rankbind.protocols.units import (
    DIMENSIONS,
    UnitError,
    canonical_value,
    format_quantity,
    parse_quantity,
)
from rankbind.validation import short

NAME = r"[A-Za-z][A-Za-z0-9_.-]*"


class SchemaViolation(ProtocolError):
    """A value violates the schema at key path ``where``."""

    def __init__(self, where: str, message: str):
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


def _join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)


def _type_name(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


class Spec:
    """A validator. ``doc`` is a one-line description shown in errors and docs."""

    doc: str = ""

    def check(self, value: Any, where: str) -> Any:
        raise NotImplementedError


@dataclass
class Str(Spec):
    pattern: str | None = None
    choices: tuple[str, ...] | None = None
    doc: str = ""

    def check(self, value, where):
        if not isinstance(value, str):
            raise SchemaViolation(
                where, f"expected a string, got {_type_name(value)} {short(value)}"
            )
        if self.choices is not None and value not in self.choices:
            raise SchemaViolation(
                where, f"{short(value)} is not one of: {', '.join(map(str, self.choices))}"
            )
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise SchemaViolation(
                where, f"{short(value)} does not match {self.pattern!r} ({self.doc})"
            )
        return value


@dataclass
class Number(Spec):
    integer: bool = False
    min: float | None = None
    max: float | None = None
    doc: str = ""

    def check(self, value, where):
        ok = isinstance(value, int) if self.integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok:
            kind = "an integer" if self.integer else "a number"
            raise SchemaViolation(where, f"expected {kind}, got {_type_name(value)} {short(value)}")
        if not math.isfinite(value):
            raise SchemaViolation(where, f"{short(value)} is not a finite number")
        _range(where, value, value, self.min, self.max, "")
        return value if self.integer else float(value)


def _range(where, value, shown, lo, hi, unit):
    if lo is not None and value < lo:
        raise SchemaViolation(where, f"{shown} is below the minimum {lo}{unit}")
    if hi is not None and value > hi:
        raise SchemaViolation(where, f"{shown} is above the maximum {hi}{unit}")


@dataclass
class Bool(Spec):
    doc: str = ""

    def check(self, value, where):
        if not isinstance(value, bool):
            raise SchemaViolation(where, f"expected true or false, got {short(value)}")
        return value


@dataclass
class Quantity(Spec):
    """A string ``"<number> <unit>"``; ``min``/``max`` in the dimension's canonical unit."""

    dimension: str
    min: float | None = None
    max: float | None = None
    doc: str = ""

    def check(self, value, where):
        try:
            quantity = parse_quantity(value, self.dimension)
        except UnitError as exc:
            raise SchemaViolation(where, str(exc)) from None
        symbol = DIMENSIONS[self.dimension][1]
        _range(
            where,
            canonical_value(quantity, self.dimension),
            repr(value),
            self.min,
            self.max,
            f" {symbol}",
        )
        return quantity


@dataclass
class Selection(Spec):
    """A residue selection ``MOLECULE[/CHAIN][:N[-M],...]`` (rankbind.structures.selection)."""

    doc: str = ""

    def check(self, value, where):
        from rankbind.structures.selection import parse_selection

        if not isinstance(value, str):
            raise SchemaViolation(where, f"expected a residue selection string, got {short(value)}")
        try:
            parse_selection(value)
        except (SelectionError, ValueError) as exc:
            raise SchemaViolation(where, str(exc)) from None
        return value


@dataclass
class ListOf(Spec):
    item: Spec
    min_len: int = 0
    doc: str = ""

    def check(self, value, where):
        if not isinstance(value, list):
            raise SchemaViolation(where, f"expected a list, got {_type_name(value)} {short(value)}")
        if len(value) < self.min_len:
            raise SchemaViolation(where, f"needs at least {self.min_len} item(s)")
        return [self.item.check(v, _join(where, i)) for i, v in enumerate(value)]


@dataclass
class MapOf(Spec):
    """A mapping with free keys (matching ``key``) and values of one spec."""

    value: Spec
    key: str = NAME
    min_len: int = 0
    doc: str = ""

    def check(self, value, where):
        if not isinstance(value, dict):
            raise SchemaViolation(
                where, f"expected a mapping, got {_type_name(value)} {short(value)}"
            )
        if len(value) < self.min_len:
            raise SchemaViolation(where, f"needs at least {self.min_len} entr(y/ies)")
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or not re.fullmatch(self.key, k):
                raise SchemaViolation(_join(where, str(k)), f"bad name {k!r} (pattern {self.key})")
            out[k] = self.value.check(v, _join(where, k))
        return out


@dataclass
class OneOf(Spec):
    """The first of ``options`` that accepts the value (e.g. an int or a list)."""

    options: tuple[Spec, ...]
    doc: str = ""

    def check(self, value, where):
        errors = []
        for option in self.options:
            try:
                return option.check(value, where)
            except SchemaViolation as exc:
                errors.append(exc.message)
        raise SchemaViolation(where, " / ".join(errors))


@dataclass
class Key:
    spec: Spec
    required: bool = False
    default: Any = None
    doc: str = ""


@dataclass
class Record(Spec):
    """A mapping with a fixed set of keys. Unknown keys are errors."""

    keys: dict[str, Key] = field(default_factory=dict)
    doc: str = ""

    def __post_init__(self):
        self.keys = {k: v if isinstance(v, Key) else Key(v) for k, v in self.keys.items()}

    def check(self, value, where):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise SchemaViolation(
                where, f"expected a mapping, got {_type_name(value)} {short(value)}"
            )
        unknown = [k for k in value if k not in self.keys]
        if unknown:
            raise SchemaViolation(
                _join(where, str(unknown[0])),
                f"unknown key '{unknown[0]}' (allowed: {', '.join(self.keys) or 'none'})",
            )
        out = {}
        for name, key in self.keys.items():
            if name in value:
                out[name] = key.spec.check(value[name], _join(where, name))
            elif key.required:
                raise SchemaViolation(_join(where, name), f"missing required key '{name}'")
            elif key.default is not None:
                out[name] = key.spec.check(key.default, _join(where, name))
        return out


@dataclass
class FilePath(Spec):
    """A path, relative to the protocol file's folder, that must exist."""

    base: Path | None = None
    doc: str = ""

    def check(self, value, where):
        if not isinstance(value, str) or not value:
            raise SchemaViolation(where, f"expected a file path, got {short(value)}")
        path = Path(value)
        if not path.is_absolute() and self.base is not None:
            path = self.base / path
        if not path.is_file():
            raise SchemaViolation(where, f"file not found: {path}")
        return str(path.resolve())


def to_data(value: Any) -> Any:
    """Resolved value -> plain data (quantities as canonical unit strings)."""
    if isinstance(value, u.Quantity):
        for dimension, (unit, _, _) in DIMENSIONS.items():
            if value.unit.is_compatible(unit):
                return format_quantity(value, dimension)
        raise ValueError(f"no canonical unit for {value}")
    if isinstance(value, dict):
        return {k: to_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_data(v) for v in value]
    return value
