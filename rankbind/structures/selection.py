"""Residue addressing by molecule and UniProt number.

Grammar: ``MOLECULE[/CHAIN][:RANGES]`` where RANGES is a comma list of ``N`` or
``N-M`` (UniProt numbers for chains with UniProt numbering, PDB numbers otherwise).
Examples: ``RANKL:233`` (residue 233 of every RANKL protomer), ``RANKL/B:233-241``,
``OPG`` (all OPG residues), ``RANK:86,89,96-98``.

A union joins selections with ``+`` (``FAB_HEAVY+FAB_LIGHT``, ``RANKL/A+RANKL/C:150-160``)
or is given as a list of selection texts; :func:`split_union`, :func:`select_union` and
:func:`atom_indices` are the one place unions are resolved.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rankbind.errors import SelectionError
from rankbind.structures.catalogue import MOLECULES

_PATTERN = re.compile(
    r"^(?P<mol>[A-Za-z_]+)(?:/(?P<chain>[A-Za-z0-9]))?(?::(?P<ranges>[0-9,\- ]+))?$"
)


@dataclass(frozen=True)
class ResidueSelection:
    """A parsed selection. ``numbers`` is None for whole molecules."""

    molecule: str
    chain: str | None
    numbers: tuple[int, ...] | None
    text: str


def parse_selection(text: str) -> ResidueSelection:
    """Parse ``text``; raise :class:`SelectionError` naming the text on bad syntax."""
    match = _PATTERN.match(text.strip())
    if not match:
        raise SelectionError(
            f"bad residue selection '{text}': expected MOLECULE[/CHAIN][:N[-M],...], "
            "e.g. 'RANKL:233' or 'RANKL/B:233-241'"
        )
    molecule = match["mol"].upper()
    if molecule not in MOLECULES:
        raise SelectionError(
            f"bad residue selection '{text}': unknown molecule '{match['mol']}' "
            f"(known: {', '.join(MOLECULES)})"
        )
    numbers = None
    if match["ranges"]:
        values: list[int] = []
        for part in match["ranges"].replace(" ", "").split(","):
            if not part:
                continue
            if "-" in part:
                lo, hi = part.split("-", 1)
                if not lo or not hi or int(lo) > int(hi):
                    raise SelectionError(f"bad residue selection '{text}': bad range '{part}'")
                values.extend(range(int(lo), int(hi) + 1))
            else:
                values.append(int(part))
        numbers = tuple(values)
    return ResidueSelection(molecule, match["chain"], numbers, text)


def select_residues(
    chains, residues_by_chain: dict[str, list[int]], text: str
) -> list[tuple[str, int]]:
    """Resolve a selection against a structure.

    chains: the structure's :class:`~rankbind.structures.assembly.ChainInfo` records.
    residues_by_chain: chain id -> residue numbers present.
    Returns (chain_id, residue number) pairs in chain order. Every explicitly listed
    number must exist in at least one selected chain."""
    sel = parse_selection(text)
    targets = [c for c in chains if c.molecule == sel.molecule]
    if sel.chain is not None:
        targets = [c for c in targets if c.chain_id == sel.chain]
    if not targets:
        have = ", ".join(f"{c.molecule}/{c.chain_id}" for c in chains)
        raise SelectionError(f"selection '{text}' matches no chain (chains here: {have})")
    out: list[tuple[str, int]] = []
    for info in targets:
        present = residues_by_chain.get(info.chain_id, [])
        wanted = present if sel.numbers is None else [n for n in sel.numbers if n in set(present)]
        out.extend((info.chain_id, n) for n in wanted)
    if sel.numbers is not None:
        found = {n for _, n in out}
        missing = [n for n in sel.numbers if n not in found]
        if missing:
            spans = ", ".join(
                f"{c.chain_id}: {min(residues_by_chain[c.chain_id])}-{max(residues_by_chain[c.chain_id])}"
                for c in targets
                if residues_by_chain.get(c.chain_id)
            )
            raise SelectionError(
                f"selection '{text}': residue(s) {missing} not present ({sel.molecule} spans {spans})"
            )
    return out


def split_union(texts: str | Sequence[str]) -> list[str]:
    """The single selections of a union: ``"A+B"`` or a list of such texts -> ``["A", "B"]``
    (whitespace stripped). Raises :class:`SelectionError` when nothing is selected."""
    items = [texts] if isinstance(texts, str) else list(texts)
    parts = [part.strip() for text in items for part in str(text).split("+") if part.strip()]
    if not parts:
        raise SelectionError(f"empty residue selection {texts!r}")
    return parts


def select_union(
    chains, residues_by_chain: dict[str, list[int]], texts: str | Sequence[str]
) -> list[tuple[str, int]]:
    """:func:`select_residues` of every selection in the union ``texts`` (see
    :func:`split_union`); each (chain_id, number) once, in order of first match."""
    out: dict[tuple[str, int], None] = {}
    for text in split_union(texts):
        out.update(dict.fromkeys(select_residues(chains, residues_by_chain, text)))
    return list(out)


def _residues(topology):
    residues = topology.residues
    return residues() if callable(residues) else residues


def _residue_key(residue) -> tuple[str, int]:
    """(chain id, residue number) of an OpenMM or mdtraj residue."""
    chain_id = getattr(residue.chain, "chain_id", None) or residue.chain.id
    number = getattr(residue, "resSeq", None)
    if number is None:
        number = int("".join(ch for ch in residue.id if ch.isdigit() or ch == "-"))
    return chain_id, int(number)


def topology_residues(topology) -> dict[str, list[int]]:
    """chain id -> residue numbers of an OpenMM or mdtraj Topology."""
    out: dict[str, list[int]] = {}
    for residue in _residues(topology):
        chain_id, number = _residue_key(residue)
        out.setdefault(chain_id, []).append(number)
    return out


def atom_indices(topology, chains, texts: str | Sequence[str], heavy: bool = False) -> list[int]:
    """Sorted atom indices of an OpenMM or mdtraj ``topology`` matching the selection or
    union ``texts`` (heavy atoms only with ``heavy``)."""
    wanted = set(select_union(chains, topology_residues(topology), texts))
    out = []
    for residue in _residues(topology):
        if _residue_key(residue) in wanted:
            atoms = residue.atoms() if callable(residue.atoms) else residue.atoms
            for atom in atoms:
                element = atom.element.symbol if atom.element is not None else ""
                if heavy and element == "H":
                    continue
                out.append(atom.index)
    return out
