"""Physical quantities written as strings in protocol files: ``"4 fs"``, ``"0.45 nm"``,
``"150 mM"``. Each dimension has one canonical unit (ps, nm, K, kJ/mol, kJ/mol/nm**2,
bar, molar) in which ranges are checked and resolved protocols are written."""

from __future__ import annotations

import re

import openmm.unit as u

from rankbind.validation import short

# dimension -> (canonical unit, canonical symbol, {accepted symbol: unit})
DIMENSIONS: dict[str, tuple[u.Unit, str, dict[str, u.Unit]]] = {
    "time": (
        u.picosecond,
        "ps",
        {
            "fs": u.femtosecond,
            "ps": u.picosecond,
            "ns": u.nanosecond,
            "us": u.microsecond,
            "µs": u.microsecond,
        },
    ),
    "length": (
        u.nanometer,
        "nm",
        {
            "nm": u.nanometer,
            "A": u.angstrom,
            "Å": u.angstrom,
            "angstrom": u.angstrom,
            "pm": u.picometer,
        },
    ),
    "temperature": (u.kelvin, "K", {"K": u.kelvin}),
    "energy": (
        u.kilojoule_per_mole,
        "kJ/mol",
        {"kJ/mol": u.kilojoule_per_mole, "kcal/mol": u.kilocalorie_per_mole},
    ),
    "force_constant": (
        u.kilojoule_per_mole / u.nanometer**2,
        "kJ/mol/nm**2",
        {
            "kJ/mol/nm**2": u.kilojoule_per_mole / u.nanometer**2,
            "kJ/mol/nm^2": u.kilojoule_per_mole / u.nanometer**2,
            "kcal/mol/A**2": u.kilocalorie_per_mole / u.angstrom**2,
            "kcal/mol/A^2": u.kilocalorie_per_mole / u.angstrom**2,
        },
    ),
    "pressure": (u.bar, "bar", {"bar": u.bar, "atm": u.atmosphere}),
    "concentration": (
        u.molar,
        "M",
        {
            "M": u.molar,
            "mM": u.millimolar,
            "uM": u.micromolar,
            "µM": u.micromolar,
            "nM": u.nanomolar,
        },
    ),
}

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*(?P<value>{_NUMBER})\s*(?P<unit>\S+)\s*$")


class UnitError(ValueError):
    """A quantity string is malformed or has a unit of the wrong dimension."""


def parse_quantity(text: object, dimension: str) -> u.Quantity:
    """Parse ``"4 fs"`` into an OpenMM Quantity of ``dimension`` (a key of DIMENSIONS).

    Raises UnitError saying what was expected, e.g. for ``"4 m"`` as a time."""
    canonical, symbol, accepted = DIMENSIONS[dimension]
    names = ", ".join(accepted)
    if isinstance(text, bool) or not isinstance(text, str):
        raise UnitError(
            f"expected a {dimension} with a unit, e.g. '1 {symbol}' (units: {names}); got {short(text)}"
        )
    match = _QUANTITY.match(text)
    if not match:
        raise UnitError(
            f"expected '<number> <unit>' for a {dimension} (units: {names}); got {short(text)}"
        )
    unit = accepted.get(match["unit"])
    if unit is None:
        raise UnitError(
            f"unit '{match['unit']}' in {short(text)} is not a {dimension} unit (units: {names})"
        )
    return float(match["value"]) * unit


def canonical_value(quantity: u.Quantity, dimension: str) -> float:
    """The value of ``quantity`` in the canonical unit of ``dimension``."""
    return quantity.value_in_unit(DIMENSIONS[dimension][0])


def format_quantity(quantity: u.Quantity, dimension: str) -> str:
    """``quantity`` as a canonical string, e.g. ``0.004 ps`` for 4 fs; parseable again."""
    return f"{canonical_value(quantity, dimension)!r} {DIMENSIONS[dimension][1]}"
