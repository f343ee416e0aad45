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
