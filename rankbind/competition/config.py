"""Competition configurations as serialisable data (YAML), with field-level validation.

Schema ``rankbind.competition/1``::

    schema: rankbind.competition/1
    receptor: RANK                    # optional (default RANK)
    signalling_min_receptors: 2       # optional
    pools:    [{name, total_trimer_molar, source, sites?}]
    binders:  [{name, source, total_molar | (surface_density_per_um2,
                confinement_length_nm), affinity: {kd_molar | dg_kcal,
                uncertainty_kcal?, temperature_k?, source}, valency?,
                c_eff_intra_molar?, c_eff_source?, bridging?,
                cooperativity?, cooperativity_source?}]
    scenarios: [{kind: dose_response | ratio_sweep | imbalance_path
                 | decoy_comparison | rankl3 | sensitivities, ...}]

Every concentration and affinity carries a ``source``; placeholders must say so.
Ranges are ``{log10_start, log10_stop, num}`` (M) or an explicit list.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rankbind.competition.model import (
    Affinity,
    Binder,
    LigandPool,
    System,
    concentration_from_surface_density,
)
from rankbind.errors import ProtocolError

SCHEMA = "rankbind.competition/1"
SCENARIO_KINDS = (
    "dose_response",
    "ratio_sweep",
    "imbalance_path",
    "decoy_comparison",
    "rankl3",
    "sensitivities",
)


def _field(where: str, data: dict, key: str, kind=None, default: Any = ...):
    if key not in data:
        if default is ...:
            raise ProtocolError(f"{where}: missing field {key!r}")
        return default
    value = data[key]
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProtocolError(f"{where}.{key}: expected a number, got {value!r}")
        return float(value)
    if kind is not None and not isinstance(value, kind):
        raise ProtocolError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
    return value


def _source(where: str, data: dict) -> str:
    source = _field(where, data, "source", str)
    if not source.strip():
        raise ProtocolError(f"{where}.source: must say where the value came from")
    return source


def parse_range(where: str, value: Any) -> np.ndarray:
    """A concentration range (M): explicit list or {log10_start, log10_stop, num}."""
    if isinstance(value, list):
        arr = np.asarray(value, dtype=float)
    elif isinstance(value, dict):
        arr = np.logspace(
            _field(where, value, "log10_start", float),
            _field(where, value, "log10_stop", float),
            int(_field(where, value, "num", int)),
        )
    else:
        raise ProtocolError(f"{where}: expected a list or {{log10_start, log10_stop, num}}")
    if arr.size == 0 or np.any(arr < 0) or not np.all(np.isfinite(arr)):
        raise ProtocolError(f"{where}: concentrations must be finite and >= 0")
    return arr


def _affinity(where: str, data: Any) -> Affinity:
    if not isinstance(data, dict):
        raise ProtocolError(f"{where}: expected a mapping")
    source = _source(where, data)
    unc = _field(where, data, "uncertainty_kcal", float, None)
    temperature = _field(where, data, "temperature_k", float, 298.15)
    if ("kd_molar" in data) == ("dg_kcal" in data):
        raise ProtocolError(f"{where}: give exactly one of kd_molar or dg_kcal")
    try:
        if "kd_molar" in data:
            return Affinity(_field(where, data, "kd_molar", float), source, unc, temperature)
        return Affinity.from_dg(_field(where, data, "dg_kcal", float), source, unc, temperature)
    except Exception as exc:  # CompetitionError from validation
        raise ProtocolError(f"{where}: {exc}") from None


def _binder(where: str, data: dict) -> Binder:
    name = _field(where, data, "name", str)
    _source(where, data)
    if "total_molar" in data:
        total = _field(where, data, "total_molar", float)
    elif "surface_density_per_um2" in data:
        total = concentration_from_surface_density(
            _field(where, data, "surface_density_per_um2", float),
            _field(where, data, "confinement_length_nm", float),
        )
    else:
        raise ProtocolError(f"{where}: give total_molar or surface_density_per_um2")
    try:
        return Binder(
            name,
            total,
            _affinity(f"{where}.affinity", _field(where, data, "affinity", dict)),
            valency=int(_field(where, data, "valency", int, 1)),
            c_eff_intra_molar=_field(where, data, "c_eff_intra_molar", float, None),
            c_eff_source=_field(where, data, "c_eff_source", str, ""),
            bridging=_field(where, data, "bridging", bool, False),
            cooperativity=_field(where, data, "cooperativity", float, None),
            cooperativity_source=_field(where, data, "cooperativity_source", str, ""),
        )
    except ProtocolError:
        raise
    except Exception as exc:
        raise ProtocolError(f"{where}: {exc}") from None


def system_from_dict(data: dict, where: str = "config") -> System:
    """Build a :class:`System` from a configuration mapping."""
    if _field(where, data, "schema", str) != SCHEMA:
        raise ProtocolError(f"{where}.schema: expected {SCHEMA!r}")
    pools = []
    for i, p in enumerate(_field(where, data, "pools", list)):
        w = f"{where}.pools[{i}]"
        _source(w, p)
        try:
            pools.append(
                LigandPool(
                    _field(w, p, "name", str),
                    _field(w, p, "total_trimer_molar", float),
                    int(_field(w, p, "sites", int, 3)),
                )
            )
        except ProtocolError:
            raise
        except Exception as exc:
            raise ProtocolError(f"{w}: {exc}") from None
    binders = [
        _binder(f"{where}.binders[{i}]", b)
        for i, b in enumerate(_field(where, data, "binders", list))
    ]
    try:
        return System(
            tuple(pools),
            tuple(binders),
            receptor=_field(where, data, "receptor", str, "RANK"),
            signalling_min_receptors=int(_field(where, data, "signalling_min_receptors", int, 2)),
        )
    except Exception as exc:
        raise ProtocolError(f"{where}: {exc}") from None


def load_config(path: str | os.PathLike) -> tuple[System, list[dict], dict]:
    """(system, scenarios, raw mapping) from a YAML file; errors name the file and field."""
    path = Path(path)
    if not path.is_file():
        raise ProtocolError(f"{path}: configuration file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProtocolError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"{path}: expected a mapping at the top level")
    system = system_from_dict(data, where=str(path))
    scenarios = _field(str(path), data, "scenarios", list, [])
    for i, s in enumerate(scenarios):
        kind = s.get("kind") if isinstance(s, dict) else None
        if kind not in SCENARIO_KINDS:
            raise ProtocolError(f"{path}.scenarios[{i}].kind: {kind!r} not in {SCENARIO_KINDS}")
    return system, scenarios, data


EXAMPLE = f"""\
# Example rankbind competition configuration.
# EVERY NUMBER BELOW IS AN ILLUSTRATIVE PLACEHOLDER (a user input to replace), NOT A
# MEASURED OR CITED VALUE: the seed documents state no Kd, concentration or c_eff.
# Replace each with your own value and its source (e.g. a rankbind ABFE result:
# affinity: {{dg_kcal: -12.1, uncertainty_kcal: 0.6, source: "rankbind abfe run X"}}).
schema: {SCHEMA}
receptor: RANK
signalling_min_receptors: 2
pools:
  - {{name: RANKL, total_trimer_molar: 1.0e-10, source: "ILLUSTRATIVE PLACEHOLDER"}}
  - {{name: RANKL3, total_trimer_molar: 0.0, source: "ILLUSTRATIVE PLACEHOLDER"}}
binders:
  - name: RANK
    total_molar: 1.0e-9          # membrane RANK as an effective concentration
    source: "ILLUSTRATIVE PLACEHOLDER"
    affinity: {{kd_molar: 1.0e-9, source: "ILLUSTRATIVE PLACEHOLDER"}}
  - name: OPG
    total_molar: 1.0e-10
    source: "ILLUSTRATIVE PLACEHOLDER"
    valency: 2                   # OPG dimer, per-arm Kd
    bridging: true
    affinity: {{kd_molar: 1.0e-10, source: "ILLUSTRATIVE PLACEHOLDER"}}
  - name: Dmab
    total_molar: 0.0
    source: "ILLUSTRATIVE PLACEHOLDER"
    valency: 2                   # IgG; bridges two trimers, no same-trimer loops
    bridging: true
    affinity: {{kd_molar: 1.0e-11, source: "ILLUSTRATIVE PLACEHOLDER"}}
  - name: RANKc
    total_molar: 0.0
    source: "ILLUSTRATIVE PLACEHOLDER"
    affinity: {{kd_molar: 1.0e-9, source: "ILLUSTRATIVE PLACEHOLDER"}}
scenarios:
  - {{kind: ratio_sweep, rankl_trimer_molar: {{log10_start: -12, log10_stop: -8, num: 17}},
     opg_molar: {{log10_start: -12, log10_stop: -8, num: 17}}}}
  - {{kind: imbalance_path, fold_change: {{log10_start: -1, log10_stop: 1, num: 21}}}}
  - {{kind: decoy_comparison, decoys: [OPG, Dmab, RANKc],
     doses_molar: {{log10_start: -13, log10_stop: -6, num: 29}}}}
  - {{kind: rankl3, rankl3_trimer_molar: {{log10_start: -12, log10_stop: -7, num: 21}}}}
  - {{kind: sensitivities, output: signalling}}
"""
