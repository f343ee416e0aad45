"""Flexibility ensembles in the denosumab docking: Fv CDR-H3 variants (atom lists, framework
vs CDR-H3 RMSDs against a numpy Kabsch written here), RANKL conformers superposed on the
first (numpy Kabsch), and ensemble poses scored on the conformers they name (against the
direct numpy score)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rankbind.errors import RankbindError
from rankbind.modelling import antibody_docking as ad
from rankbind.modelling import docking as dk
from rankbind.modelling import restraints as rs
from rankbind.modelling.fab import denosumab_sequences, heavy_cdrs, light_cdrs
from rankbind.structures import structures_dir


def _kabsch_rmsd(mobile, target, other_mobile=None, other_target=None):
    """RMSD (Å) of ``mobile`` fitted on ``target`` and, if given, of ``other_*`` moved by
    that fit: plain numpy SVD with the reflection fix."""
    mc, tc = mobile.mean(0), target.mean(0)
    u, _, vt = np.linalg.svd((mobile - mc).T @ (target - tc))
    r = vt.T @ np.diag([1.0, 1.0, np.sign(np.linalg.det(vt.T @ u.T))]) @ u.T
    fit = np.sqrt(np.mean(np.sum(((mobile - mc) @ r.T + tc - target) ** 2, 1)))
    if other_mobile is None:
        return fit
    moved = (other_mobile - mc) @ r.T + tc
    return fit, np.sqrt(np.mean(np.sum((moved - other_target) ** 2, 1)))


def _ca(path):
    """{(chain, number): CA xyz} read by PDB columns (not rankbind's reader)."""
    rows = [
        r for r in open(path).read().splitlines() if r.startswith("ATOM") and r[12:16] == " CA "
    ]
    return {(r[21], int(r[22:26])): np.array([float(r[30:38]), float(r[38:46]), float(r[46:54])])
            for r in rows}  # fmt: skip


def test_fv_variants_share_atoms_keep_framework_and_differ_in_h3():
    data = json.loads((structures_dir() / ad.FV_ENSEMBLE / "ensemble.json").read_text())
    paths = ad.fv_conformers()
    assert list(paths)[0] == "fv_3BN9" and len(paths) >= 2
    atoms = [ad._heavy_atom_list(ad.read_fv(p)) for p in paths.values()]
    assert all(a == atoms[0] for a in atoms) and len(atoms[0]) == 1744
    seqs = denosumab_sequences()
    h3 = next(c for c in heavy_cdrs(seqs["VH"]) if c.name == "H3")
    loops = {("H", n) for c in heavy_cdrs(seqs["VH"]) for n in range(c.start, c.end + 1)}
    loops |= {("L", n) for c in light_cdrs(seqs["VL"]) for n in range(c.start, c.end + 1)}
    ref = _ca(paths["fv_3BN9"])
    for name, path in list(paths.items())[1:]:
        ca = _ca(path)
        frame = [k for k in sorted(ref) if k not in loops]
        h3_keys = [("H", n) for n in range(h3.start, h3.end + 1)]
        fw, h3_rmsd = _kabsch_rmsd(np.array([ca[k] for k in frame]),
                                   np.array([ref[k] for k in frame]),
                                   np.array([ca[k] for k in h3_keys]),
                                   np.array([ref[k] for k in h3_keys]))  # fmt: skip
        stored = data["ca_rmsd_after_framework_superposition_angstrom"][f"3BN9_vs_{name[3:]}"]
        assert stored["framework"] == pytest.approx(fw, abs=2e-3)
        assert stored["cdr_h3"] == pytest.approx(h3_rmsd, abs=2e-3)
        # measured: framework 0.64-0.68 Å, CDR-H3 6.4-6.5 Å from the default model
        assert fw < 1.0 and h3_rmsd > 2.0


def test_superposed_rankl_conformer_matches_numpy_kabsch():
    ref, other = ad.target_trimer("mouse"), ad.target_trimer("mouse_3ME2")
    moved, record = ad.superposed_trimer(other, ref)
    a = {(x.chain, x.resseq): np.array(x.xyz) for x in ref.atoms if x.name == "CA"}
    b = {(x.chain, x.resseq): np.array(x.xyz) for x in other.atoms if x.name == "CA"}
    m = {(x.chain, x.resseq): np.array(x.xyz) for x in moved.atoms if x.name == "CA"}
    common = sorted(set(a) & set(b))
    expected = _kabsch_rmsd(np.array([b[k] for k in common]), np.array([a[k] for k in common]))
    assert record["n_ca"] == len(common) > 400
    assert record["ca_rmsd_angstrom"] == pytest.approx(expected, abs=1e-3)
    after = np.sqrt(np.mean([np.sum((m[k] - a[k]) ** 2) for k in common]))
    assert after == pytest.approx(expected, abs=1e-3)
    # the mouse epitope (human T233-Y241 = mouse 232-240) is present on every conformer
    for trimer in (ref, moved):
        assert {("A", n) for n in range(232, 241)} <= {(x.chain, x.resseq) for x in trimer.atoms}


@pytest.fixture(scope="module")
def ensemble_run():
    settings = dk.DockingSettings(spacing=3.0, rotation_spacing_deg=None, n_rotations=120,
                                  orientation_cone_deg=60.0, restraint_min_atoms=20,
                                  n_keep=6, batch=8)  # fmt: skip
    fv = ad.fv_conformers()
    fv_pdbs = {k: str(fv[k]) for k in list(fv)[:2]}
    run = ad.denosumab_on_rankl("mouse", settings, n_report=3,
                                rankl_conformers=["mouse", "mouse_3ME2"], fv_pdbs=fv_pdbs)  # fmt: skip
    return run, settings, fv_pdbs


def test_ensemble_pose_scores_equal_direct_score_on_its_conformers(ensemble_run):
    run, settings, fv_pdbs = ensemble_run
    assert run["poses"] and set(run["conformers"]["rankl"]) == {"mouse", "mouse_3ME2"}
    epitope = frozenset(("A", n) for n in range(232, 241))  # mouse numbering
    seqs = denosumab_sequences()
    restraint = rs.combine(rs.InterfaceRestraint(receptor=epitope, min_atoms=20),
                           rs.cdr_paratope(seqs["VH"], seqs["VL"]))  # fmt: skip
    ref = ad.target_trimer("mouse")
    trimers = {"mouse": ref, "mouse_3ME2": ad.superposed_trimer(ad.target_trimer("mouse_3ME2"),
                                                                ref)[0]}  # fmt: skip
    seen = set()
    for q in run["poses"]:
        rn, ln = q["receptor_conformer"], q["ligand_conformer"]
        seen.add((rn, ln))
        rec, lig, s = rs.apply(restraint,
                               dk.molecule_from_assembly(trimers[rn], ["A", "B", "C"]),
                               dk.molecule_from_assembly(ad.read_fv(fv_pdbs[ln]), ["H", "L"]),
                               settings)  # fmt: skip
        placed = (lig.xyz - lig.xyz.mean(0)) @ np.array(q["rotation"]).T + q["position_angstrom"]
        direct = dk.score_pose_direct(rec, placed, lig, s)
        assert q["score"] == pytest.approx(direct["score"], rel=2e-4, abs=0.05)
        assert q["restraint_atoms"] == direct["restraint_atoms"] >= 20
        contacts = {n + 1 for _, n in dk.interface_residues(rec, placed, 5.0)}  # human numbers
        assert q["epitope_T233_Y241_buried"] == sorted(contacts & set(range(233, 242)))
    assert len(seen) >= 2  # the merged list holds poses of more than one conformer pair
    assert run["poses"][0]["score"] == max(q["score"] for q in run["poses"])


def test_ensemble_rejects_conformers_of_another_species():
    with pytest.raises(RankbindError, match="first must be the target"):
        ad.denosumab_on_rankl("mouse", dk.DockingSettings(), rankl_conformers=["human", "mouse"])


def test_unknown_vh_template_is_named():
    from rankbind.errors import StructureError
    from rankbind.modelling.fab import build_denosumab_model

    with pytest.raises(StructureError, match="'XXXX' is not a Fab template"):
        build_denosumab_model("fv", vh_template="XXXX")


def test_conformer_counts_of_the_ensemble_summary():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "gpu_bench/denosumab_docking.py"
    spec = importlib.util.spec_from_file_location("denosumab_docking_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    poses = [{"receptor_conformer": r, "ligand_conformer": f}
             for r, f in [("a", "x"), ("b", "x"), ("a", "y")]]  # fmt: skip
    runs = {"human": [{"poses": poses}, {"poses": poses[1:]}], "mouse": [{"poses": [{}]}]}
    counts = bench.conformer_counts(runs)
    assert counts["human"]["rank1"] == {"a x x": 1, "b x x": 1}
    assert counts["human"]["top5"] == {"a x x": 1, "b x x": 2, "a x y": 2}
    assert counts["mouse"] == {"rank1": {"mouse x fv": 1}, "top5": {"mouse x fv": 1}, "n_seeds": 1}
