"""Small builders shared by tests (kept tiny so the suite runs on 2 CPU cores)."""

from __future__ import annotations

from functools import lru_cache

from rankbind.preparation import PreparationOptions, prepare
from rankbind.structures.assembly import build_assembly, extract

# A 24-residue RANKL–OPG interface fragment of 3URF (both partners contribute).
FRAGMENT = ("RANKL/A:230-240", "OPG:100-112")


@lru_cache(maxsize=4)
def fragment(solvent: str = "vacuum", gb_model: str = "GBn2"):
    assembly = extract(build_assembly("3URF", "interface"), list(FRAGMENT))
    return prepare(assembly, PreparationOptions(solvent=solvent, gb_model=gb_model))


def kabsch(mobile, reference):
    """Rotation R and translation t minimising |R @ mobile + t - reference| (rows are points)."""
    import numpy as np

    mc, rc = mobile.mean(0), reference.mean(0)
    h = (mobile - mc).T @ (reference - rc)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rotation = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rotation, rc - rotation @ mc


# (chain, first, last) in UniProt numbering; RANKL A:200-203 is ~2 nm from OPG
SEGMENTS = (("A", 179, 182), ("A", 237, 241), ("A", 200, 203), ("R", 68, 71), ("R", 114, 118))


@lru_cache(maxsize=4)
def fixed_segments(segments: tuple = SEGMENTS):
    """(OpenMM Topology, positions (N, 3) nm) of ``segments`` ((chain, first, last) in
    UniProt numbering) of 3URF, each its own chain A, B, ... in that order (default: RANKL
    A-C, OPG D-E), heavy atoms and hydrogens at pH 7 added by PDBFixer (Reference platform
    for its internal Contexts, seeded: the same coordinates every call), no gaps rebuilt."""
    import dataclasses
    import io
    import os

    import numpy as np
    from openmm import unit
    from pdbfixer import PDBFixer

    from rankbind.preparation import seeded_random
    from rankbind.structures.pdbfile import format_atom

    assembly = build_assembly("3URF", "interface")
    lines = []
    for k, (chain, lo, hi) in enumerate(segments):
        for atom in assembly.atoms:
            if atom.record == "ATOM" and atom.chain == chain and lo <= atom.resseq <= hi:
                moved = dataclasses.replace(atom, chain="ABCDEFGH"[k])
                lines.append(format_atom(moved, len(lines) + 1))
        lines.append("TER")
    fixer = PDBFixer(pdbfile=io.StringIO("\n".join(lines) + "\nEND\n"))
    fixer.findMissingResidues()
    fixer.missingResidues = {}
    fixer.findMissingAtoms()
    previous = os.environ.get("OPENMM_DEFAULT_PLATFORM")
    os.environ["OPENMM_DEFAULT_PLATFORM"] = "Reference"  # PDBFixer's internal Contexts
    try:
        with seeded_random(1):  # PDBFixer's random placements and clash-relief dynamics
            fixer.addMissingAtoms(seed=1)
            fixer.addMissingHydrogens(7.0)
    finally:
        if previous is None:
            del os.environ["OPENMM_DEFAULT_PLATFORM"]
        else:
            os.environ["OPENMM_DEFAULT_PLATFORM"] = previous
    return fixer.topology, np.array(fixer.positions.value_in_unit(unit.nanometer))
