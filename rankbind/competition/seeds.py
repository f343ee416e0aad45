"""Load and validate the curated literature data in ``seeds/`` (see seeds/README.md).

Every loader raises :class:`SeedError` naming the file, row and field of a bad entry.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from rankbind.errors import RankbindError
from rankbind.fileio import data_dir

REFERENCE_CELL = re.compile(r"^\[\d+(?:[–,]\d+)*\]$")
NCT_ID = re.compile(r"^NCT\d{8}$")
PHASES = {"I", "II", "III"}
CONFIDENCE = {"stated-in-abstract", "stated-in-review", "stated-in-review-uncited"}


class SeedError(RankbindError):
    """A seed data file is missing, malformed or inconsistent with its metadata."""


def seeds_dir() -> Path:
    """The seeds folder: :func:`rankbind.fileio.data_dir` ``("seeds")``."""
    return data_dir("seeds")


@dataclass(frozen=True)
class ExpressionRow:
    """Renema 2016 Table 1 row. Reference cells as printed; None where "–"."""

    tumour_type: str
    rank_references: str | None
    rankl_references: str | None


@dataclass(frozen=True)
class Trial:
    """Renema 2016 Table 2 row. Doses in mg per administration (None: not stated)."""

    nct_id: str
    phase: str
    indication: str
    primary_outcome: str
    patients_enrolled: int
    dose_mg_min: float | None
    dose_mg_max: float | None
    route: str
    schedule: str
    other_treatment: str


def _read_csv(path: Path, columns: list[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise SeedError(f"{path}: seed file not found")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != columns:
            raise SeedError(f"{path}: columns {reader.fieldnames} != expected {columns}")
        rows = list(reader)
    meta_path = path.with_suffix(".meta.yaml")
    if not meta_path.is_file():
        raise SeedError(f"{meta_path}: companion metadata not found")
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    for key in ("source", "rows", "columns"):
        if key not in meta:
            raise SeedError(f"{meta_path}: missing field {key!r}")
    if meta["rows"] != len(rows):
        raise SeedError(f"{path}: {len(rows)} rows but {meta_path.name} says {meta['rows']}")
    if list(meta["columns"]) != columns:
        raise SeedError(f"{meta_path}: columns do not match {path.name}")
    return rows


def _reference_cell(path: Path, row: int, field: str, value: str) -> str | None:
    if value == "–":
        return None
    if not REFERENCE_CELL.match(value):
        raise SeedError(f"{path}: row {row}, field {field}: bad reference cell {value!r}")
    return value


def load_expression_table(path: str | os.PathLike | None = None) -> list[ExpressionRow]:
    """Renema 2016 Table 1 (RANK/RANKL expression by tumour type)."""
    path = Path(path) if path else seeds_dir() / "rank_rankl_expression_by_tumour.csv"
    columns = ["tumour_type", "rank_expression_references", "rankl_expression_references"]
    out = []
    for i, row in enumerate(_read_csv(path, columns), start=2):
        if not row["tumour_type"].strip():
            raise SeedError(f"{path}: row {i}, field tumour_type is empty")
        out.append(
            ExpressionRow(
                row["tumour_type"],
                _reference_cell(path, i, columns[1], row[columns[1]]),
                _reference_cell(path, i, columns[2], row[columns[2]]),
            )
        )
    return out


def _dose(path: Path, row: int, field: str, value: str) -> float | None:
    if value == "":
        return None
    try:
        dose = float(value)
    except ValueError:
        raise SeedError(f"{path}: row {row}, field {field}: not a number: {value!r}") from None
    if dose <= 0:
        raise SeedError(f"{path}: row {row}, field {field}: dose must be > 0")
    return dose


def load_trials(path: str | os.PathLike | None = None) -> list[Trial]:
    """Renema 2016 Table 2 (clinical trials of RANKL targeting)."""
    path = Path(path) if path else seeds_dir() / "denosumab_trials.csv"
    columns = [
        "nct_id",
        "phase",
        "indication",
        "primary_outcome",
        "patients_enrolled",
        "denosumab_dose_mg_min",
        "denosumab_dose_mg_max",
        "route",
        "schedule",
        "other_treatment",
    ]
    out = []
    seen = set()
    for i, row in enumerate(_read_csv(path, columns), start=2):
        if not NCT_ID.match(row["nct_id"]):
            raise SeedError(f"{path}: row {i}, field nct_id: bad id {row['nct_id']!r}")
        if row["nct_id"] in seen:
            raise SeedError(f"{path}: row {i}: duplicate {row['nct_id']}")
        seen.add(row["nct_id"])
        if row["phase"] not in PHASES:
            raise SeedError(f"{path}: row {i}, field phase: {row['phase']!r} not in {PHASES}")
        for field in ("indication", "primary_outcome", "route", "schedule"):
            if not row[field].strip():
                raise SeedError(f"{path}: row {i}, field {field} is empty")
        if not row["patients_enrolled"].isdigit():
            raise SeedError(f"{path}: row {i}, field patients_enrolled: not an integer")
        lo = _dose(path, i, "denosumab_dose_mg_min", row["denosumab_dose_mg_min"])
        hi = _dose(path, i, "denosumab_dose_mg_max", row["denosumab_dose_mg_max"])
        if (lo is None) != (hi is None) or (lo is not None and lo > hi):
            raise SeedError(f"{path}: row {i}: inconsistent dose range {lo}..{hi}")
        out.append(
            Trial(
                row["nct_id"],
                row["phase"],
                row["indication"],
                row["primary_outcome"],
                int(row["patients_enrolled"]),
                lo,
                hi,
                row["route"],
                row["schedule"],
                row["other_treatment"],
            )
        )
    return out


def _load_yaml(path: Path) -> dict:
    if not path.is_file():
        raise SeedError(f"{path}: seed file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SeedError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict) or "sources" not in data:
        raise SeedError(f"{path}: expected a mapping with a 'sources' section")
    return data


def _check_entries(path: Path, data: dict, key: str, required: tuple[str, ...]) -> list[dict]:
    entries = data.get(key)
    if not isinstance(entries, list) or not entries:
        raise SeedError(f"{path}: field {key!r} must be a non-empty list")
    ids = set()
    for n, entry in enumerate(entries):
        for field in required:
            if field not in entry:
                raise SeedError(f"{path}: {key}[{n}] is missing field {field!r}")
        if entry["id"] in ids:
            raise SeedError(f"{path}: {key}[{n}]: duplicate id {entry['id']!r}")
        ids.add(entry["id"])
        if entry["source"] not in data["sources"]:
            raise SeedError(f"{path}: {key}[{n}]: unknown source {entry['source']!r}")
        if entry["confidence"] not in CONFIDENCE:
            raise SeedError(f"{path}: {key}[{n}]: confidence {entry['confidence']!r}")
    return entries


def load_isoforms(path: str | os.PathLike | None = None) -> dict[str, dict]:
    """Isoform entries by id (RANKL1, RANKL2, RANKL3, sRANKL-shed, RANK-c, OPG, RANK)."""
    path = Path(path) if path else seeds_dir() / "isoforms.yaml"
    data = _load_yaml(path)
    required = ("id", "molecule", "gene", "facts", "source", "confidence", "modelled_as")
    return {e["id"]: e for e in _check_entries(path, data, "isoforms", required)}


def load_myeloma_findings(path: str | os.PathLike | None = None) -> dict[str, dict]:
    """Myeloma RANKL/OPG findings by id."""
    path = Path(path) if path else seeds_dir() / "myeloma_rankl_opg.yaml"
    data = _load_yaml(path)
    return {
        e["id"]: e for e in _check_entries(path, data, "findings", ("id", "source", "confidence"))
    }
