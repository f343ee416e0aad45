"""Input checks shared by parsers and settings: finite numbers, YAML without duplicate
keys, option strings, and values shortened for error messages (a message names the
file, field and value, never echoes a megabyte)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from rankbind.errors import RankbindError, StructureError

LIMIT = 80


def short(value: Any, limit: int = LIMIT) -> str:
    """``repr(value)`` cut to ``limit`` characters, saying how long it was."""
    text = value if isinstance(value, str) and limit < 0 else repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 3]}... ({len(text)} characters)"


def require_finite(name: str, value: Any, error=RankbindError) -> float:
    """``value`` as a float; ``error`` naming ``name`` if it is NaN, infinite or not a
    number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise error(f"{name}: expected a number, got {short(value)}") from None
    if not math.isfinite(number):
        raise error(f"{name}: {short(value)} is not a finite number")
    return number


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects a mapping holding the same key twice (plain YAML
    keeps the last value silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # the base class reports unhashable keys
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found duplicate key {short(key)} (first at line {seen[key] + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def yaml_error_message(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return f"not valid YAML{at}: {short(problem, 200)}"


def load_yaml(path: str | Path, error=RankbindError) -> Any:
    """Parse a YAML file with :class:`UniqueKeyLoader`; ``error`` names the file for
    unreadable, binary or invalid YAML and duplicate keys."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{path}: not a text file (binary or not UTF-8)") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise error(f"{path}: {yaml_error_message(exc)}") from None


def parse_chain_option(item: str, molecules) -> tuple[str, str, int | None]:
    """``ID=MOLECULE[:OFFSET]`` (the ``--chain`` option) -> (chain, MOLECULE, offset)."""
    chain, _, rest = item.partition("=")
    molecule, _, offset = rest.partition(":")
    expected = f"expected ID=MOLECULE[:OFFSET] with MOLECULE in {', '.join(molecules)}"
    if len(chain) != 1 or molecule.upper() not in molecules:
        raise StructureError(f"--chain {short(item)}: {expected}")
    if offset:
        try:
            number = int(offset)
        except ValueError:
            raise StructureError(
                f"--chain {short(item)}: OFFSET {short(offset)} is not an integer ({expected})"
            ) from None
    else:
        number = None
    return chain, molecule.upper(), number
