"""Docking score terms: FFT total equals the direct sum for random poses (shape,
electrostatics, desolvation, MJ pair potential); required restraints exclude poses that
miss the epitope (checked by an independent k-d tree count); pair-potential algebra."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from rankbind.errors import RankbindError
from rankbind.modelling import docking as dk
from rankbind.modelling import pair_potential as pp
from rankbind.structures import build_assembly


@pytest.fixture(scope="module")
def partners():
    a = build_assembly("4GIQ", "interface")
    return a, dk.molecule_from_assembly(a, ["A", "B"]), dk.molecule_from_assembly(a, ["R"])


def _rotations(k, seed):
    rng = np.random.default_rng(seed)
    return np.array([dk.random_rotation(rng) for _ in range(k)])


def test_mj_table_and_eigen_terms():
    e = pp.mj_matrix()
    assert np.allclose(e, e.T)
    i = pp.ORDER.index
    # published values (Miyazawa & Jernigan 1996, Table 3)
    assert e[i("L"), i("L")] == -7.37 and e[i("K"), i("K")] == -0.12
    assert e[i("F"), i("I")] == -6.84
    assert np.allclose(pp.truncated_matrix(20), e)
    lam, v = pp.eigen_terms(2)
    assert np.allclose(v @ v.T, np.eye(2))
    with pytest.raises(RankbindError, match="pair_terms"):
        pp.eigen_terms(0)


def test_fft_total_score_equals_direct_sum(partners):
    _, rec, lig = partners
    settings = dk.DockingSettings(spacing=1.6, desolv_weight=2.0, pair_weight=0.3, n_keep=6,
                                  cluster_rmsd=0.1, pair_terms=3, batch=3)  # fmt: skip
    result = dk.dock(rec, lig, settings, rotations=_rotations(6, 11))
    assert len(result.poses) == 6
    for pose in result.poses:
        direct = dk.score_pose_direct(rec, pose.apply(lig.xyz, result.ligand_center), lig,
                                      settings)  # fmt: skip
        assert pose.score == pytest.approx(direct["score"], rel=2e-4, abs=0.05)
    # the native pose scores the terms with the right signs
    native = dk.score_pose_direct(rec, lig.xyz, lig, settings)
    assert native["shape"] > 0 and native["desolv_kcal"] < 0 and native["pair_rt"] < 0


@pytest.mark.parametrize("mode", ["favoured", "required"])
def test_fft_restraint_weight_equals_direct_count(partners, mode):
    """restraint_weight x restraint count enters the FFT score in both modes: the FFT
    score and count of each pose equal the direct (k-d tree) count and total."""
    from dataclasses import replace

    _, rec, lig = partners
    near = np.linalg.norm(rec.xyz - lig.xyz.mean(0), axis=1) < 25.0
    rec = replace(rec, restraint=near)
    lig = replace(lig, restraint=np.ones(len(lig.xyz), dtype=bool))
    settings = dk.DockingSettings(spacing=1.6, restraint_mode=mode, restraint_weight=0.7,
                                  restraint_min_atoms=5, n_keep=4, cluster_rmsd=0.1, batch=4)  # fmt: skip
    result = dk.dock(rec, lig, settings, rotations=_rotations(4, 12))
    assert result.poses and max(p.restraint_atoms for p in result.poses) > 0
    for pose in result.poses:
        direct = dk.score_pose_direct(rec, pose.apply(lig.xyz), lig, settings)
        assert pose.restraint_atoms == pytest.approx(direct["restraint_atoms"], abs=0.01)
        assert pose.score == pytest.approx(direct["score"], rel=2e-4, abs=0.05)


def test_required_restraints_exclude_violating_poses(partners):
    _, rec0, lig = partners
    # epitope: receptor residues on the side facing away from the native ligand
    d = np.linalg.norm(rec0.xyz - lig.xyz.mean(0), axis=1)
    far = {rec0.residues[i] for i in np.argsort(-d)[:40]}
    a = partners[0]
    rec = dk.molecule_from_assembly(a, ["A", "B"], far)
    lig_r = dk.molecule_from_assembly(a, ["R"], set(lig.residues))
    rotations = _rotations(8, 4)
    base = dk.DockingSettings(spacing=1.6, batch=4, n_keep=8, cluster_rmsd=0.1)
    free = dk.dock(rec0, lig, base, rotations=rotations)
    req = dk.dock(rec, lig_r, base, rotations=rotations)
    epi = cKDTree(rec.xyz[rec.restraint])

    def touching(pose, result):
        placed = pose.apply(lig.xyz, result.ligand_center)
        # snapping moves an atom by at most sqrt(3)/2 h
        hits = epi.query_ball_point(placed, base.restraint_cutoff + 0.87 * base.spacing)
        return sum(bool(h) for h in hits)

    assert req.poses, "some rotation reaches the epitope"
    assert all(touching(p, req) >= base.restraint_min_atoms for p in req.poses)
    assert all(p.restraint_atoms >= base.restraint_min_atoms for p in req.poses)
    # without the restraint, poses that miss the epitope exist (so the filter did work)
    assert any(touching(p, free) < base.restraint_min_atoms for p in free.poses)
    with pytest.raises(RankbindError, match="restraint_mode"):
        dk.dock(rec, lig_r, dk.DockingSettings(restraint_mode="maybe"), rotations=rotations)


def test_restraints_as_data_round_trip_and_masks(partners):
    from rankbind.modelling import restraints as rs

    _, rec, lig = partners
    r = rs.InterfaceRestraint(receptor=frozenset({("A", 232), ("B", 240)}),
                              mode="favoured", weight=0.5, name="epi")  # fmt: skip
    assert rs.InterfaceRestraint.from_dict(r.to_dict()) == r
    rec2, lig2, s = rs.apply(r, rec, lig, dk.DockingSettings())
    expected = sum(res in {("A", 232), ("B", 240)} for res in rec.residues)
    assert rec2.restraint.sum() == expected > 0
    assert lig2.restraint.all()  # empty ligand side = whole ligand
    assert (s.restraint_mode, s.restraint_weight) == ("favoured", 0.5)
    with pytest.raises(RankbindError, match="mode"):
        rs.InterfaceRestraint(receptor=frozenset({("A", 1)}), mode="often")
    with pytest.raises(RankbindError, match="unknown field"):
        rs.InterfaceRestraint.from_dict({"receptor": ["A1"], "colour": "red"})
    with pytest.raises(RankbindError, match="none of its residues"):
        rs.apply(rs.InterfaceRestraint(receptor=frozenset({("Z", 9)})), rec, lig, s)
    epi = rs.denosumab_epitope(["A", "B", "C"])
    assert {n for _, n in epi.receptor} == set(range(233, 242))


def test_ensemble_docking_merges_conformers(partners):
    """Two ligand conformers (the crystal one and a copy with 0.3 Å Gaussian noise on
    every atom) docked with the same rotations: the merged list is re-clustered
    across conformers, ranked by score, and each pose names its conformers."""
    from dataclasses import replace

    _, rec, lig = partners
    rng = np.random.default_rng(2)
    other = replace(lig, xyz=lig.xyz + rng.normal(scale=0.3, size=lig.xyz.shape))
    settings = dk.DockingSettings(spacing=1.6, batch=3, n_keep=3, cluster_rmsd=0.1)
    rotations = _rotations(3, 8)
    merged = dk.dock_ensemble([("bound", rec)], [("crystal", lig), ("perturbed", other)],
                              settings, rotations)  # fmt: skip
    singles = [dk.dock(rec, m, settings, rotations) for m in (lig, other)]
    scores = [p.score for p in merged.poses]
    assert scores == sorted(scores, reverse=True)
    assert [p.rank for p in merged.poses] == list(range(1, len(merged.poses) + 1))
    assert merged.poses[0].score == pytest.approx(max(s.poses[0].score for s in singles))
    assert {p.provenance["ligand_conformer"] for p in merged.poses} <= {"crystal", "perturbed"}
    assert len(merged.poses) <= settings.n_keep


def _read_chain_xyz(path, chains):
    """Heavy ATOM coordinates of ``chains`` from a PDB file, by fixed columns (not
    rankbind's reader)."""
    rows = [line for line in path.read_text().splitlines() if line.startswith("ATOM")]
    return np.array([[float(r[30:38]), float(r[38:46]), float(r[46:54])] for r in rows
                     if r[21] in chains and r[76:78].strip() != "H"])  # fmt: skip


def test_write_ensemble_places_each_pose_with_its_own_conformer(partners, tmp_path):
    """Two ligand conformers that differ by noise and a 3 Å shift, docked as an
    ensemble: every written model, re-read by columns, holds the receptor unchanged and
    the ligand conformer its pose came from, placed by that pose's transform about that
    conformer's centre (numpy), to PDB precision."""
    from dataclasses import replace

    assembly, rec, lig = partners
    rng = np.random.default_rng(5)
    shift = np.array([3.0, -1.0, 2.0])
    moved = replace(assembly, atoms=[
        replace(a, xyz=tuple(np.asarray(a.xyz) + shift + rng.normal(scale=0.3, size=3)))
        if a.chain == "R" else a for a in assembly.atoms])  # fmt: skip
    ligs = {"crystal": assembly, "moved": moved}
    mols = {k: dk.molecule_from_assembly(v, ["R"]) for k, v in ligs.items()}
    settings = dk.DockingSettings(spacing=1.6, batch=2, n_keep=4, cluster_rmsd=0.1)
    result = dk.dock_ensemble([("bound", rec)], list(mols.items()), settings, _rotations(2, 3))
    conformers = {p.provenance["ligand_conformer"] for p in result.poses}
    assert conformers == {"crystal", "moved"}
    dk.write_ensemble(result, {"bound": assembly}, ["A", "B"], ligs, ["R"], tmp_path, {})
    for pose in result.poses:
        path = tmp_path / f"pose_{pose.rank:02d}.pdb"
        mol = mols[pose.provenance["ligand_conformer"]]
        expected = (mol.xyz - mol.xyz.mean(0)) @ pose.rotation.T + pose.position
        assert np.abs(_read_chain_xyz(path, "R") - expected).max() < 1.5e-3
        assert np.abs(_read_chain_xyz(path, "AB") - rec.xyz).max() < 1.5e-3
    with pytest.raises(RankbindError, match="ligand conformer"):
        dk.write_ensemble(result, assembly, ["A", "B"], {"crystal": assembly}, ["R"],
                          tmp_path / "x", {})  # fmt: skip
