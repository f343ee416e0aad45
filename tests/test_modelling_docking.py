"""FFT docking: numpy reference, CAPRI metrics, re-docking of 3URF and 4GIQ."""

from __future__ import annotations

import numpy as np
import pytest

from rankbind.modelling import docking as dk
from rankbind.modelling import pipelines as pl
from rankbind.structures import build_assembly


def _near(rotation: np.ndarray, k: int, max_deg: float, rng) -> np.ndarray:
    """``k`` rotations within ``max_deg`` degrees of ``rotation`` (random axes/angles)."""
    out = []
    for _ in range(k):
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        angle = np.radians(rng.uniform(0.0, max_deg))
        q = np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])
        out.append(dk.quaternion_matrices(q[None])[0] @ rotation)
    return np.array(out)


def test_rotations_are_proper_and_spread():
    r = dk.quaternion_matrices(dk.super_fibonacci_quaternions(200))
    assert np.allclose(np.einsum("nij,nkj->nik", r, r), np.eye(3), atol=1e-10)
    assert np.allclose(np.linalg.det(r), 1.0)
    # covering: every random rotation is within 45 degrees of one of 200 samples
    rng = np.random.default_rng(0)
    probes = np.array([dk.random_rotation(rng) for _ in range(50)])
    cos = (np.einsum("pij,nij->pn", probes, r) - 1) / 2
    assert np.degrees(np.arccos(np.clip(cos.max(1), -1, 1))).max() < 45


def _dockq_reference_models():
    import json
    from pathlib import Path

    data = Path(__file__).parent / "data" / "dockq"
    ref = json.loads((data / "reference.json").read_text())
    assert ref["dockq_version"] == "2.1.3"
    return [(data, m) for m in ref["models"] if m["case"] == "1AHW"]


@pytest.mark.parametrize(
    "data,model", _dockq_reference_models(), ids=[m["model"] for _, m in _dockq_reference_models()]
)
def test_capri_metrics_match_the_dockq_package(data, model, tmp_path):
    """capri_metrics (rankbind.analysis.dockq through the docking Molecule) against DockQ
    2.1.3 on the fixture's moved-ligand models of 1AHW (tests/data/dockq/reference.json)."""
    import gzip
    from types import SimpleNamespace

    from rankbind.benchmark.datasets import read_atoms

    native = tmp_path / "native.pdb"
    native.write_text(gzip.open(data / (model["native"] + ".gz"), "rt").read())
    assembly = SimpleNamespace(name="1AHW", atoms=read_atoms(native))
    rec = dk.molecule_from_assembly(assembly, ["A"])
    lig = dk.molecule_from_assembly(assembly, ["B"])
    t = model["transform"]
    rot, centre = np.array(t["rotation"]), np.array(t["centre"])
    moved = (lig.xyz - centre) @ rot.T + centre + np.array(t["translation"])
    got = dk.capri_metrics(rec, lig, lig.xyz, moved)
    assert got["dockq"] == pytest.approx(model["DockQ"], abs=2e-3)
    assert got["fnat"] == pytest.approx(model["fnat"], abs=1e-3)
    assert got["i_rmsd"] == pytest.approx(model["iRMSD"], abs=1e-2)
    assert got["l_rmsd"] == pytest.approx(model["LRMSD"], abs=1e-2)


def test_capri_metrics_native_and_shifted():
    a = build_assembly("4GIQ", "interface")
    rec = dk.molecule_from_assembly(a, ["A", "B"])
    lig = dk.molecule_from_assembly(a, ["R"])
    native = dk.capri_metrics(rec, lig, lig.xyz, lig.xyz)
    assert native == {"fnat": 1.0, "l_rmsd": 0.0, "i_rmsd": 0.0, "dockq": 1.0, "capri": "high"}
    shifted = dk.capri_metrics(rec, lig, lig.xyz, lig.xyz + np.array([3.0, 0.0, 0.0]))
    assert shifted["l_rmsd"] == pytest.approx(3.0, abs=1e-6)
    assert 0 < shifted["i_rmsd"] <= 3.0 + 1e-6
    far = dk.capri_metrics(rec, lig, lig.xyz, lig.xyz + np.array([30.0, 0.0, 0.0]))
    assert far["capri"] == "incorrect" and far["fnat"] == 0.0


@pytest.fixture(scope="module", params=["3URF", "4GIQ"])
def restrained_case(request):
    """Restrained re-docking with a restricted rotational set: 8 rotations within 15
    degrees of the answer mixed with 16 uniformly random ones (a documented shortcut for
    CI; the unrestrained test below searches a full rotational set)."""
    entry = request.param
    rng = np.random.default_rng(7)
    start_rot = dk.random_rotation(np.random.default_rng(1))
    # randomised_ligand(seed=1) draws its rotation first from the same generator
    true = start_rot.T
    rotations = np.concatenate(
        [_near(true, 8, 15.0, rng), np.array([dk.random_rotation(rng) for _ in range(16)])]
    )
    rotations = rotations[rng.permutation(len(rotations))]
    settings = dk.DockingSettings(spacing=1.2)
    return pl.redock_case(entry, True, settings, seed=1, rotations=rotations)


def test_restrained_redocking_top1(restrained_case):
    top = restrained_case["poses"][0]
    assert top["capri"] in ("acceptable", "medium", "high"), top
    assert top["restraint_atoms"] >= 10


def test_fft_score_matches_direct_numpy(restrained_case):
    result, start = restrained_case["_result"], None
    rot, shift, center = restrained_case["_start_transform"]
    assembly = restrained_case["_assembly"]
    rec = dk.molecule_from_assembly(assembly, ["A", "B", "C"])
    lig = dk.molecule_from_assembly(assembly, ["R"])
    start = (lig.xyz - center) @ rot.T + center + shift
    # these molecules carry no restraint masks: the restraint term (restraint_weight x
    # the FFT's count, checked against a direct count in test_docking_scoring) comes off
    w = result.settings.restraint_weight
    for pose in result.poses[:2]:
        placed = pose.apply(start, result.ligand_center)
        direct = dk.score_pose_direct(rec, placed, lig, result.settings)
        expected = pose.score - w * pose.restraint_atoms
        assert direct["score"] == pytest.approx(expected, rel=1e-3, abs=0.05)


@pytest.mark.slow
def test_unrestrained_redocking_4giq_real_search():
    """A real unrestrained search: 1000 quasi-uniform rotations (~24 degree spacing),
    1.2 Å grid, mouse RANKL trimer as receptor, RANK from a random orientation.
    Measured on the development machine: rank 1 is CAPRI medium (fnat 0.46, i-RMSD
    1.8 Å). (3URF with the same settings: first acceptable pose only at rank 22, so the
    top-10 target is not met there; see structures/models/docking_validation.)"""
    case = pl.redock_case("4GIQ", False, dk.DockingSettings(n_rotations=1000), seed=1)
    ranks = [p["rank"] for p in case["poses"] if p["capri"] != "incorrect"]
    assert ranks and ranks[0] <= 10, ranks


def test_bound_4giq_redocks_with_issue16_scoring():
    """Coarse CI settings (1.5 Å grid, 4 rotations within 10 degrees of the answer among 8
    random ones, epitope restraint, desolvation + MJ pair terms, PRODIGY-contact consensus
    ranking): the top pose is acceptable or better, with DockQ >= 0.23 (CAPRI acceptable
    corresponds to DockQ 0.23, Basu & Wallner 2016)."""
    rng = np.random.default_rng(3)
    true = dk.random_rotation(np.random.default_rng(1)).T
    rotations = np.concatenate(
        [_near(true, 4, 10.0, rng), np.array([dk.random_rotation(rng) for _ in range(8)])]
    )
    settings = dk.recommended_settings(spacing=1.5, rescore_top=12, batch=4)
    case = pl.redock_case("4GIQ", True, settings, seed=1, rotations=rotations)
    top = case["poses"][0]
    assert top["capri"] in ("acceptable", "medium", "high"), top
    assert top["dockq"] >= 0.23
    assert top["prodigy_ic_kcal_per_mol"] is not None


def test_molecule_from_partner_inverts_dockq_partner():
    # a crystal's heavy atoms through a DockQ Partner and back: the same docking molecule
    # as molecule_from_assembly builds from the structure directly
    a = build_assembly("4GIQ", "interface")
    ref = dk.molecule_from_assembly(a, ["A", "R"], {("R", 100)})
    back = dk.molecule_from_partner(dk.dockq_partner(ref), {("R", 100, "")})
    assert np.array_equal(back.xyz, ref.xyz)
    assert np.array_equal(back.charges, ref.charges) and back.charges.any()
    for name in ("is_ca", "is_backbone", "restraint"):
        assert np.array_equal(getattr(back, name), getattr(ref, name)), name
    assert back.restraint.sum() == sum(r == ("R", 100) for r in ref.residues) > 0
    assert back.residues == ref.residues
    assert (back.atom_names, back.resnames, back.elements) == (
        ref.atom_names, ref.resnames, ref.elements)  # fmt: skip
