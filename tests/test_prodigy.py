"""PRODIGY IC-NIS: the published formula on hand counts and a constructed interface."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rankbind.analysis import prodigy
from rankbind.analysis.footprints import protein_trajectory
from rankbind.analysis.interface import residue_sasa
from rankbind.structures import build_assembly


def test_formula_on_hand_counts():
    # -0.09459*2 - 0.10007*3 + 0.19577*1 - 0.22671*4 + 0.18681*40 + 0.13810*25 - 15.9433
    dg = prodigy.ic_nis_dg(ic_cc=2, ic_ac=3, ic_pp=1, ic_ap=4, nis_apolar=40, nis_charged=25)
    assert dg == pytest.approx(-6.21886, abs=1e-9)
    assert prodigy.dg_to_kd(dg) == pytest.approx(math.exp(-6.21886 / (0.0019858775 * 298.15)))
    assert prodigy.dg_to_kd(dg) == pytest.approx(2.74e-5, rel=0.01)


# (group 1 residue, group 2 partner) placed on top of each other; other pairs >= 2.5 nm apart
DESIGN = [("ARG", "LYS"), ("ASP", "GLU"), ("SER", "ASN"), ("LEU", "VAL"), ("TYR", "HIS")]


@pytest.fixture(scope="module")
def constructed():
    """Ten real residues cut from 3URF, one designed contact per pair, all solvent exposed."""
    traj = protein_trajectory(build_assembly("3URF", "asu"))
    top = traj.topology
    picked = []
    for names in zip(*DESIGN, strict=True):
        for name in names:
            picked.append(next(r for r in top.residues if r.name == name and r not in picked))
    atoms = sorted(a.index for r in picked for a in r.atoms if a.element.symbol != "H")
    sub = traj.atom_slice(atoms)
    xyz = sub.xyz[0].copy()
    key = {(r.chain.chain_id, r.resSeq): k for k, r in enumerate(picked)}
    position = {}  # design slot -> residue index in the cut-out system
    for res in sub.topology.residues:
        k = key[(res.chain.chain_id, res.resSeq)]
        position[k] = res.index
        idx = [a.index for a in res.atoms]
        xyz[idx] += np.array([2.5 * (k % 5), 0.0, 0.7 * (k // 5)]) - xyz[idx].mean(0)
    sub.xyz = xyz[None]
    g1 = np.array([position[k] for k in range(5)])
    g2 = np.array([position[k] for k in range(5, 10)])
    return sub, g1, g2


def test_constructed_interface(constructed):
    traj, g1, g2 = constructed
    top = traj.topology
    # hand check of the design: partner pairs in contact (< 5.5 Å heavy-atom), others not
    xyz = traj.xyz[0]
    for n, i in enumerate(g1):
        for m, j in enumerate(g2):
            a = [x.index for x in top.residue(int(i)).atoms]
            b = [x.index for x in top.residue(int(j)).atoms]
            dmin = np.linalg.norm(xyz[a][:, None] - xyz[b][None], axis=-1).min()
            assert (dmin <= 0.55) == (n == m), (i, j, dmin)
    # ARG-LYS, ASP-GLU: charged/charged; SER-ASN polar/polar; LEU-VAL apolar/apolar;
    # TYR-HIS: Tyr is apolar and His charged in PRODIGY's IC classes
    expected = {"CC": 2, "CP": 0, "AC": 1, "PP": 1, "AP": 0, "AA": 1}
    _, sasa = residue_sasa(traj, np.arange(traj.n_atoms))
    names = [r.name for r in top.residues]
    rsa = sasa[0] / np.array([prodigy.REFERENCE_ASA[n] for n in names])
    assert (rsa >= prodigy.ACC_THRESHOLD).all()  # so %NIS counts all ten residues
    # NIS classes: R D K E charged (4), S Y N H polar (4), L V apolar (2)
    result = prodigy.predict(traj, [g1, g2], ["g1", "g2"])
    assert result.contacts == expected and result.n_contacts == 5
    assert result.nis_apolar == pytest.approx(20.0)
    assert result.nis_charged == pytest.approx(40.0)
    assert result.nis_polar == pytest.approx(40.0)
    # -0.09459*2 - 0.10007*1 + 0.19577*1 + 0.18681*20 + 0.13810*40 - 15.9433
    assert result.dg_kcal_per_mol == pytest.approx(-6.77658, abs=1e-9)
    assert result.dg_kj_per_mol == pytest.approx(-6.77658 * 4.184, abs=1e-8)


def test_nonstandard_residue_rejected():
    from rankbind.errors import SelectionError

    with pytest.raises(SelectionError, match="NAG"):
        prodigy.classify_contacts([("ALA", "NAG")])


def test_frames_summary(constructed):
    traj, g1, g2 = constructed
    two = traj.join(traj)
    results, stats = prodigy.predict_frames(two, [g1, g2])
    assert len(results) == 2 and stats["n_frames"] == 2
    assert stats["dg_kcal_per_mol_mean"] == pytest.approx(-6.77658, abs=1e-9)
    assert stats["dg_kcal_per_mol_sem"] == pytest.approx(0.0, abs=1e-12)
