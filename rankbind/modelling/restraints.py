"""Docking restraints as data: epitope / paratope residue sets, required or favoured.

A :class:`InterfaceRestraint` names receptor residues (epitope; empty = the whole
receptor surface) and ligand residues (paratope; empty = the whole ligand), a mode and a
weight. :func:`apply` turns it into the per-atom masks of the docking molecules and the
matching :class:`~rankbind.modelling.docking.DockingSettings` fields:

* ``required``: poses with fewer than ``min_atoms`` ligand restraint atoms within
  ``cutoff_angstrom`` of receptor restraint atoms are excluded;
* ``favoured``: ``weight`` x that atom count is added to the docking score.

Published restraints come in the same form: :func:`denosumab_epitope` (RANKL T233-Y241,
human numbering; Schieferdecker et al. 2014 via ``seeds``' segment table) and
:func:`cdr_paratope` (Kabat CDRs from the sequence, :mod:`rankbind.modelling.fab`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rankbind.errors import RankbindError

MODES = ("required", "favoured")


@dataclass(frozen=True)
class InterfaceRestraint:
    """Residue sets as (chain, residue number) pairs; see the module docstring."""

    receptor: frozenset = field(default_factory=frozenset)
    ligand: frozenset = field(default_factory=frozenset)
    mode: str = "required"
    weight: float = 1.0
    min_atoms: int = 10
    cutoff_angstrom: float = 6.0
    name: str = ""

    def __post_init__(self):
        if self.mode not in MODES:
            raise RankbindError(f"restraint {self.name!r}: mode must be one of {MODES}, "
                                f"got {self.mode!r}")  # fmt: skip
        if not self.receptor and not self.ligand:
            raise RankbindError(f"restraint {self.name!r}: no receptor or ligand residues")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "mode": self.mode,
            "weight": self.weight,
            "min_atoms": self.min_atoms,
            "cutoff_angstrom": self.cutoff_angstrom,
            "receptor": [f"{c}{n}" for c, n in sorted(self.receptor)],
            "ligand": [f"{c}{n}" for c, n in sorted(self.ligand)],
        }

    @classmethod
    def from_dict(cls, data: dict) -> InterfaceRestraint:
        """Inverse of :meth:`to_dict` (residues as "A233" strings or [chain, number])."""

        def parse(items):
            out = set()
            for item in items or ():
                if isinstance(item, str):
                    if len(item) < 2 or not item[1:].lstrip("-").isdigit():
                        raise RankbindError(f"restraint residue {item!r}: expected e.g. 'A233'")
                    out.add((item[0], int(item[1:])))
                else:
                    out.add((str(item[0]), int(item[1])))
            return frozenset(out)

        known = {"name", "mode", "weight", "min_atoms", "cutoff_angstrom", "receptor", "ligand"}
        unknown = set(data) - known
        if unknown:
            raise RankbindError(f"restraint: unknown field(s) {sorted(unknown)}")
        return cls(
            receptor=parse(data.get("receptor")),
            ligand=parse(data.get("ligand")),
            mode=data.get("mode", "required"),
            weight=float(data.get("weight", 1.0)),
            min_atoms=int(data.get("min_atoms", 10)),
            cutoff_angstrom=float(data.get("cutoff_angstrom", 6.0)),
            name=data.get("name", ""),
        )


def apply(restraint: InterfaceRestraint, receptor, ligand, settings):
    """(receptor, ligand, settings) with the restraint masks and settings set. An empty
    side means every atom of that partner (e.g. paratope-only: the CDRs must touch the
    antigen anywhere)."""
    import numpy as np

    def mask(mol, residues):
        if not residues:
            return np.ones(len(mol.xyz), dtype=bool)
        m = np.array([r in residues for r in mol.residues])
        if not m.any():
            raise RankbindError(f"restraint {restraint.name!r}: none of its residues present "
                                f"(first: {sorted(residues)[:3]})")  # fmt: skip
        return m

    rec = replace(receptor, restraint=mask(receptor, restraint.receptor))
    lig = replace(ligand, restraint=mask(ligand, restraint.ligand))
    new = settings.replace(
        restraint_mode=restraint.mode,
        # required: the cut, and the score weight of the settings; favoured: its own weight
        restraint_weight=restraint.weight
        if restraint.mode == "favoured"
        else settings.restraint_weight,
        restraint_min_atoms=restraint.min_atoms,
        restraint_cutoff=restraint.cutoff_angstrom,
    )
    return rec, lig, new


def denosumab_epitope(chains: list[str], mode: str = "required", weight: float = 1.0,
                      min_atoms: int = 20) -> InterfaceRestraint:  # fmt: skip
    """RANKL T233-Y241 (human numbering) on ``chains`` (the segment table in seeds)."""
    from rankbind.modelling.isoforms import segment

    seg = segment("denosumab_epitope")
    residues = frozenset((c, n) for c in chains for n in range(seg["first"], seg["last"] + 1))
    return InterfaceRestraint(receptor=residues, mode=mode, weight=weight,
                              min_atoms=min_atoms, name="denosumab epitope T233-Y241")  # fmt: skip


def cdr_paratope(vh: str, vl: str, heavy_chain: str = "H", light_chain: str = "L",
                 mode: str = "required", weight: float = 1.0,
                 min_atoms: int = 20) -> InterfaceRestraint:  # fmt: skip
    """Kabat CDRs H1-H3 / L1-L3 of the VH / VL sequences (sequential numbering from 1, as
    in rankbind's Fv/Fab models) as a ligand-side restraint."""
    from rankbind.modelling.fab import heavy_cdrs, light_cdrs

    res = {(heavy_chain, n) for c in heavy_cdrs(vh) for n in range(c.start, c.end + 1)}
    res |= {(light_chain, n) for c in light_cdrs(vl) for n in range(c.start, c.end + 1)}
    return InterfaceRestraint(ligand=frozenset(res), mode=mode, weight=weight,
                              min_atoms=min_atoms, name="Kabat CDRs")  # fmt: skip


def combine(epitope: InterfaceRestraint, paratope: InterfaceRestraint) -> InterfaceRestraint:
    """Epitope and paratope in one restraint (mode, weight and thresholds of ``epitope``)."""
    return replace(epitope, ligand=paratope.ligand,
                   name=f"{epitope.name} + {paratope.name}".strip(" +"))  # fmt: skip
