"""Ensembles: restrained OBC2 replicas and MD frames of a small 3URF interface fragment;
uncertainty method follows the mode; trajectory frames read back equal those written."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from openmm import unit

from rankbind.energies.ensembles import EnsembleSettings, ensemble_mmgbsa, load_frames, sample
from rankbind.energies.mmgbsa import MMGBSASettings
from rankbind.errors import SettingsError
from rankbind.preparation import PreparationOptions, prepare
from rankbind.structures.assembly import build_assembly, extract


@lru_cache(maxsize=1)
def _complex():
    assembly = extract(build_assembly("3URF", "interface"), ["RANKL/A:236-240", "OPG:113-117"])
    prepared = prepare(assembly, PreparationOptions(solvent="vacuum"))
    top = prepared.topology
    chains = [c.id for c in top.chains()]
    rec = [a.index for a in top.atoms() if a.residue.chain.id == chains[0]]
    lig = [a.index for a in top.atoms() if a.residue.chain.id != chains[0]]
    return top, prepared.positions, rec, lig


def test_replicas_are_distinct_restrained_and_scored_iid():
    top, pos, rec, lig = _complex()
    settings = EnsembleSettings(mode="replicas", n_frames=3, md_steps=20, minimise_iterations=20)
    frames, record = sample(top, pos, settings)
    assert frames.shape == (3, top.getNumAtoms(), 3)
    assert np.abs(frames[0] - frames[1]).max() > 1e-3  # different velocities, different frames
    assert max(record["heavy_atom_rmsd_to_start_nm"]) < 0.05  # restrained near the start
    result, rec2 = ensemble_mmgbsa(
        top, pos, rec, lig, MMGBSASettings(n_bootstrap=100), frames=None, ensemble=settings
    )
    assert result.info["uncertainty"]["method"] == "iid bootstrap"
    per_frame = result.delta_total
    assert len(per_frame) == 3 and result.binding.sem > 0
    assert result.binding.mean == pytest.approx(per_frame.mean())


def test_md_frames_use_block_bootstrap_and_trajectory_round_trip(tmp_path):
    import mdtraj

    top, pos, rec, lig = _complex()
    settings = EnsembleSettings(
        mode="md", n_frames=8, equilibration_steps=10, interval_steps=5, minimise_iterations=10
    )
    frames, record = sample(top, pos, settings)
    assert frames.shape[0] == 8
    traj = mdtraj.Trajectory(frames, mdtraj.Topology.from_openmm(top))
    traj.save_dcd(str(tmp_path / "t.dcd"))
    traj[0].save_pdb(str(tmp_path / "t.pdb"))
    top2, back = load_frames(str(tmp_path / "t.dcd"), str(tmp_path / "t.pdb"))
    np.testing.assert_allclose(back, frames, atol=2e-4)  # DCD single precision (Å)
    result, _ = ensemble_mmgbsa(
        top, pos, rec, lig, MMGBSASettings(n_bootstrap=100, nonpolar="none"), frames=back
    )
    assert result.info["uncertainty"]["method"].startswith("moving-block")
    with pytest.raises(SettingsError, match="EnsembleSettings.mode"):
        EnsembleSettings(mode="magic")
    assert unit.is_quantity(pos)
