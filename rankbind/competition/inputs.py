"""Competition-model inputs with provenance (``seeds/competition_inputs.yaml``).

Every number the cited scenarios use is an :class:`Input`: a value, its unit and its
kind, one of ``cited`` (a source id and where in it), ``derived`` (computed from other
inputs by a stated formula), ``computed`` (this project's estimators, with the run that
produced it) or ``placeholder`` (nothing citable found; ``basis`` says why this value).
:func:`resolve` turns a role -> reference mapping into inputs and raises
:class:`InputError` for any number without a source: a scenario cannot run on an
unsourced value.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rankbind.competition.model import CompetitionError

SCHEMA = "rankbind.competition-inputs/1"
KINDS = ("cited", "derived", "computed", "placeholder")
CONFIDENCE = ("primary", "label", "secondary")


class InputError(CompetitionError):
    """A competition input without provenance, or a malformed inputs file."""


@dataclass(frozen=True)
class Input:
    """One number with its provenance; ``label`` is what the report prints next to it."""

    id: str
    quantity: str
    value: float
    unit: str
    kind: str
    source: str | None = None
    citation: str = ""
    location: str = ""
    confidence: str = ""
    basis: str = ""
    note: str = ""
    derived_from: tuple[str, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        if self.kind == "cited":
            return f"cited ({self.source}, {self.confidence})"
        if self.kind == "derived":
            worst = "placeholder" if "placeholder" in self.basis else "cited"
            return f"derived from {', '.join(self.derived_from)} ({worst} inputs)"
        return self.kind

    @property
    def provenance(self) -> str:
        if self.kind == "cited":
            return f"{self.citation}; {self.location}"
        if self.kind == "derived":
            return self.basis
        return self.basis or self.source or ""


def _check(where: str, entry: dict, sources: dict) -> Input:
    for key in ("id", "quantity", "value", "unit", "kind"):
        if key not in entry:
            raise InputError(f"{where}: missing field {key!r}")
    value = entry["value"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{where}.value: expected a finite number, got {value!r}")
    kind = entry["kind"]
    if kind not in KINDS:
        raise InputError(f"{where}.kind: {kind!r} not in {KINDS}")
    source = entry.get("source")
    if kind == "cited":
        if source not in sources:
            raise InputError(f"{where}.source: cited value needs a known source id, got {source!r}")
        if not str(entry.get("location", "")).strip():
            raise InputError(f"{where}.location: say where in {source} the value stands")
        if entry.get("confidence") not in CONFIDENCE:
            raise InputError(f"{where}.confidence: {entry.get('confidence')!r} not in {CONFIDENCE}")
    elif kind == "computed":
        if not str(source or "").strip():
            raise InputError(f"{where}.source: a computed value names the run that produced it")
    elif not str(entry.get("basis", "")).strip():
        raise InputError(f"{where}.basis: a {kind} value must say how it was obtained")
    citation = sources.get(source, {}).get("citation", "") if source in sources else ""
    return Input(
        id=str(entry["id"]),
        quantity=str(entry["quantity"]),
        value=float(value),
        unit=str(entry["unit"]),
        kind=kind,
        source=source,
        citation=citation,
        location=str(entry.get("location", "")),
        confidence=str(entry.get("confidence", "")),
        basis=str(entry.get("basis", "")),
        note=str(entry.get("note", "")),
    )


def default_path() -> Path:
    from rankbind.competition.seeds import seeds_dir

    return seeds_dir() / "competition_inputs.yaml"


def load_inputs(path: str | os.PathLike | None = None) -> dict[str, Input]:
    """All inputs by id, validated (see module docstring)."""
    path = Path(path) if path else default_path()
    if not path.is_file():
        raise InputError(f"{path}: inputs file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise InputError(f"{path}: expected a mapping with schema {SCHEMA!r}")
    sources = data.get("sources") or {}
    out: dict[str, Input] = {}
    for n, entry in enumerate(data.get("values") or []):
        where = f"{path}: values[{n}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: expected a mapping")
        item = _check(where, entry, sources)
        if item.id in out:
            raise InputError(f"{where}: duplicate id {item.id!r}")
        out[item.id] = item
    if not out:
        raise InputError(f"{path}: no values")
    return out


def derived(
    id: str, quantity: str, value: float, unit: str, parents: list[Input], formula: str
) -> Input:
    """An input computed from ``parents``; placeholder-ness propagates into its basis."""
    kinds = {p.kind for p in parents}
    worst = "placeholder" if "placeholder" in kinds else "cited/computed"
    return Input(
        id=id,
        quantity=quantity,
        value=float(value),
        unit=unit,
        kind="derived",
        basis=f"{formula} ({worst} inputs)",
        derived_from=tuple(p.id for p in parents),
    )


def resolve(roles: dict[str, Any], inputs: dict[str, Input], where: str = "scenario") -> dict:
    """Role -> :class:`Input` for every role. A reference is an input id (str), or an
    inline mapping with the fields of an inputs-file entry (``kind`` and its provenance
    required). Raises :class:`InputError` naming the role when a value has no source."""
    out = {}
    for role, ref in roles.items():
        w = f"{where}.{role}"
        if isinstance(ref, Input):
            out[role] = ref
        elif isinstance(ref, str):
            if ref not in inputs:
                raise InputError(f"{w}: no input with id {ref!r}")
            out[role] = inputs[ref]
        elif isinstance(ref, dict):
            entry = {"id": role, "quantity": role} | ref
            if "kind" not in entry:
                raise InputError(f"{w}: inline value {ref.get('value')!r} has no kind/source")
            out[role] = _check(w, entry, _SOURCES_CACHE.get("sources", {}))
        elif isinstance(ref, int | float):
            raise InputError(f"{w}: bare number {ref!r} has no source (give an input id)")
        else:
            raise InputError(f"{w}: expected an input id or a mapping, got {ref!r}")
    return out


_SOURCES_CACHE: dict[str, dict] = {}


def register_sources(path: str | os.PathLike | None = None) -> None:
    """Make the sources of an inputs file known to inline references in :func:`resolve`."""
    path = Path(path) if path else default_path()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    _SOURCES_CACHE["sources"] = data.get("sources") or {}


def mass_to_molar(mass_per_volume: Input, molecular_weight: Input) -> float:
    """Concentration (M) from a mass concentration (ng/mL, ug/L, ug/mL, mg/L) and g/mol."""
    scale = {"ng/mL": 1e-6, "ug/L": 1e-6, "ug/mL": 1e-3, "mg/L": 1e-3}
    if mass_per_volume.unit not in scale:
        raise InputError(
            f"{mass_per_volume.id}: unit {mass_per_volume.unit!r} is not a mass/volume"
        )
    if molecular_weight.unit != "g/mol":
        raise InputError(f"{molecular_weight.id}: expected g/mol, got {molecular_weight.unit!r}")
    return mass_per_volume.value * scale[mass_per_volume.unit] / molecular_weight.value
