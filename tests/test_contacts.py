"""JAX residue contacts against mdtraj.compute_contacts (same frames, pairs, scheme)."""

from __future__ import annotations

import mdtraj
import numpy as np
import pytest

from rankbind.analysis import contacts
from rankbind.analysis.footprints import protein_trajectory
from rankbind.structures import build_assembly

TOL_NM = 1e-5


@pytest.fixture(scope="module")
def system():
    """3URF groove (RANKL x2 + OPG), 6 perturbed frames, a spread of residue pairs."""
    assembly = build_assembly("3URF", "interface")
    ref = protein_trajectory(assembly)
    rng = np.random.default_rng(7)
    xyz = ref.xyz + rng.normal(0.0, 0.03, (6, *ref.xyz.shape[1:])).astype(np.float32)
    traj = mdtraj.Trajectory(xyz, ref.topology)
    rankl = contacts.select(traj.topology, assembly.chains, "RANKL")
    opg = contacts.select(traj.topology, assembly.chains, "OPG")
    cross = contacts.cross_pairs(rankl, opg)[::41]
    intra = np.array([[i, j] for i in rankl[:40:3] for j in rankl[:40:5] if i < j])
    return assembly, traj, np.concatenate([cross, intra]), opg


@pytest.mark.parametrize("scheme", ["closest-heavy", "closest", "ca"])
def test_matches_mdtraj(system, scheme):
    _, traj, pairs, _ = system
    ours, returned = contacts.compute_contacts(traj, pairs, scheme, chunk_frames=4)
    ref, ref_pairs = mdtraj.compute_contacts(traj, pairs, scheme=scheme)
    np.testing.assert_array_equal(returned, ref_pairs)
    assert ours.shape == ref.shape == (6, len(pairs))
    np.testing.assert_allclose(ours, ref, atol=TOL_NM, rtol=0)


def test_float64_agrees_with_float32(system):
    _, traj, pairs, _ = system
    d32, _ = contacts.compute_contacts(traj, pairs, precision="float32", chunk_frames=4)
    d64, _ = contacts.compute_contacts(traj, pairs, precision="float64", chunk_frames=4)
    assert d64.dtype == np.float64
    np.testing.assert_allclose(d32, d64, atol=TOL_NM, rtol=0)


@pytest.mark.parametrize(
    "box",
    [
        np.diag([20.0, 21.0, 22.0]),
        np.array([[20.0, 0.0, 0.0], [6.0, 21.0, 0.0], [-5.0, 7.0, 22.0]]),  # triclinic
    ],
    ids=["orthorhombic", "triclinic"],
)
def test_periodic_minimum_image(system, box):
    """Shift OPG by box vectors: with the unit cell the distances are unchanged and equal
    mdtraj's minimum-image values; without it they are not. (Boxes are > 2x the extent
    of the complex, so the minimum image is the true distance.)"""
    _, traj, pairs, opg = system
    box = box.astype(np.float32)
    before, _ = contacts.compute_contacts(traj, pairs, chunk_frames=4)
    shifted = traj.xyz.copy()
    opg_atoms = [a.index for a in traj.topology.atoms if a.residue.index in set(opg.tolist())]
    shifted[:, opg_atoms] += box[0] - box[1] + box[2]
    periodic = mdtraj.Trajectory(shifted, traj.topology)
    periodic.unitcell_vectors = np.repeat(box[None], len(traj), axis=0)
    ours, _ = contacts.compute_contacts(periodic, pairs, chunk_frames=4)
    ref, _ = mdtraj.compute_contacts(periodic, pairs, scheme="closest-heavy", periodic=True)
    np.testing.assert_allclose(ours, ref, atol=TOL_NM, rtol=0)
    np.testing.assert_allclose(ours, before, atol=TOL_NM, rtol=0)
    flat, _ = contacts.compute_contacts(periodic, pairs, periodic=False, chunk_frames=4)
    assert np.abs(flat - before).max() > 1.0  # the image convention matters here


def test_streamed_chunks_equal_whole(system, tmp_path):
    """mdtraj.iterload chunks give the same frequencies as one in-memory trajectory."""
    _, traj, pairs, _ = system
    traj[0].save_pdb(str(tmp_path / "top.pdb"))
    traj.save_dcd(str(tmp_path / "traj.dcd"))
    whole, n = contacts.contact_frequency(traj, pairs, cutoff=0.5, chunk_frames=4)
    streamed, m = contacts.contact_frequency(
        mdtraj.iterload(str(tmp_path / "traj.dcd"), top=str(tmp_path / "top.pdb"), chunk=4),
        pairs,
        cutoff=0.5,
        chunk_frames=4,
    )
    assert n == m == 6
    np.testing.assert_allclose(streamed, whole)
    assert 0 < (whole > 0).sum() < len(pairs)


def test_interface_residues_brute_force(system):
    """interface() against a numpy all-atom brute force on frame 0."""
    assembly, traj, _, opg = system
    rankl = contacts.select(traj.topology, assembly.chains, "RANKL")
    found = contacts.interface(traj[0], rankl, opg, cutoff=0.45)
    heavy = [a for a in traj.topology.atoms if a.element.symbol != "H"]
    xyz = traj.xyz[0]
    opg_set, rankl_set = set(opg.tolist()), set(rankl.tolist())
    b = np.array([a.index for a in heavy if a.residue.index in opg_set])
    expected = set()
    for a in heavy:
        if a.residue.index in rankl_set:
            if (np.linalg.norm(xyz[b] - xyz[a.index], axis=1) < 0.45).any():
                expected.add(a.residue.index)
    assert set(found.residues_a) == expected
    assert {traj.topology.residue(r).chain.chain_id for r in expected} == {"A", "C"}


def test_bad_scheme_and_pairs(system):
    from rankbind.errors import SelectionError

    _, traj, _, _ = system
    with pytest.raises(SelectionError, match="scheme"):
        contacts.compute_contacts(traj, [[0, 5]], scheme="sidechain")
    with pytest.raises(SelectionError, match="out of range"):
        contacts.compute_contacts(traj, [[0, 10**6]])


def test_union_selection(system):
    assembly, traj, _, opg = system
    rankl_a = contacts.select(traj.topology, assembly.chains, "RANKL/A")
    union = contacts.select(traj.topology, assembly.chains, "RANKL/A+OPG/R")
    np.testing.assert_array_equal(union, np.union1d(rankl_a, opg))


def test_contact_map_is_symmetric_frequency(system):
    _, traj, pairs, _ = system
    dist, _ = contacts.compute_contacts(traj, pairs, chunk_frames=4)
    cmap = contacts.contact_map(dist, pairs, traj.n_residues, cutoff=0.5)
    freq = (dist < 0.5).mean(axis=0)
    np.testing.assert_allclose(cmap[pairs[:, 0], pairs[:, 1]], freq)
    np.testing.assert_allclose(cmap, cmap.T)
    assert cmap.sum() == pytest.approx(2 * freq.sum())
