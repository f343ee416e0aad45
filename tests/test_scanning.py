"""Mutation scanning in one run: single and multiple alanine truncations (paired, equal to
a direct alanine_scan of the same frames) and a rebuilt substitution (unpaired)."""

from __future__ import annotations

import numpy as np
import pytest

from rankbind.energies.alanine import alanine_scan
from rankbind.energies.ensembles import EnsembleSettings, sample
from rankbind.energies.mmgbsa import MMGBSASettings, selection_atoms
from rankbind.energies.scanning import mutation_scan
from rankbind.errors import SelectionError
from rankbind.preparation import PreparationOptions, prepare
from rankbind.structures.assembly import build_assembly, extract

SEGMENTS = ["RANKL/A:236-240", "OPG:113-117"]


def test_scan_alanine_single_multiple_and_rebuilt_substitution():
    assembly = extract(build_assembly("3URF", "interface"), SEGMENTS)
    prep = PreparationOptions(solvent="vacuum")
    ensemble = EnsembleSettings(
        n_frames=2, md_steps=10, minimise_iterations=10, platform="Reference"
    )
    settings = MMGBSASettings(n_bootstrap=100, nonpolar="none")
    sets = [["A:Q237A"], ["A:Q237A", "R:E116A"], ["R:E116Q"]]
    prepared = prepare(assembly, prep)
    out = mutation_scan(assembly, "RANKL", "OPG", sets, prep, ensemble, settings, prepared=prepared)
    single, double, rebuilt = out["scan"]
    assert "paired" in single["kind"] and "paired" in double["kind"]
    assert "rebuilt" in rebuilt["kind"]
    assert all(
        np.isfinite(e["ddG_kcal_per_mol"]) and e["sem_kcal_per_mol"] >= 0 for e in out["scan"]
    )
    assert double["label"] == "GLN237/A+GLU116/R->ALA"
    # independent path: same preparation, same seeded frames, alanine_scan directly
    frames, _ = sample(prepared.topology, prepared.positions, ensemble)
    rec = selection_atoms(prepared.topology, prepared.chains, "RANKL")
    lig = selection_atoms(prepared.topology, prepared.chains, "OPG")
    q237 = next(r.index for r in prepared.topology.residues() if r.name == "GLN" and r.id == "237")
    _, direct = alanine_scan(prepared.topology, frames, rec, lig, [[q237]], settings)
    assert single["ddG_kJ_per_mol"] == pytest.approx(direct[0].ddg.mean, abs=0.05)
    with pytest.raises(SelectionError, match="is GLN"):
        mutation_scan(
            assembly, "RANKL", "OPG", [["A:K237A"]], prep, ensemble, settings, prepared=prepared
        )
