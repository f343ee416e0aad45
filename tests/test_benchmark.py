"""rankbind.benchmark: parsers, metrics against independent references (DockQ 2.1.3,
scipy, an analytic i-RMSD), and a two-case end-to-end run of each benchmark kind."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from rankbind.analysis import dockq
from rankbind.benchmark import datasets, metrics

DATA = Path(__file__).parent / "data"
MINI = DATA / "benchmark"


# ------------------------------------------------------------------ parsers


def test_antibody_benchmark_parser_multichain_and_affinities():
    cases = {c.name: c for c in datasets.load_antibody_benchmark(MINI / "antibody_benchmark")}
    assert set(cases) == {"2DD8", "2W9E"}
    c = cases["2DD8"]
    assert c.receptor_chains == ("H", "L") and c.ligand_chains == ("S",)
    assert c.category == "Medium" and c.new
    assert c.dg_exp_kcal_per_mol == -10.5 and c.kd_exp_nM == 20.0
    assert c.receptor_unbound.name == "2DD8_r_u.pdb"
    assert cases["2W9E"].interface_rmsd_angstrom == 1.13


def test_partner_keeps_insertion_codes_and_chain_order():
    case = {c.name: c for c in datasets.load_antibody_benchmark(MINI / "antibody_benchmark")}[
        "2DD8"
    ]
    partner = metrics.read_partner(case.receptor_bound, ("L", "H"))
    raw = [
        (s[21], int(s[22:26]), s[26].strip())
        for s in case.receptor_bound.read_text().splitlines()
        if s.startswith("ATOM")
    ]
    expected = list(
        dict.fromkeys([k for k in raw if k[0] == "L"] + [k for k in raw if k[0] == "H"])
    )
    assert partner.keys == expected
    assert any(k[2] for k in partner.keys)  # insertion codes survive as separate residues


def test_parse_mutation_insertion_code_and_errors():
    m = datasets.parse_mutation("H:Y100aA")
    assert (m.chain, m.wild_type, m.number, m.icode, m.new) == ("H", "Y", 100, "a", "A")
    assert datasets.icode_matches("a", "A") and not datasets.icode_matches("", "A")
    assert str(datasets.parse_mutation("B:D-3N")) == "B:D-3N"
    with pytest.raises(datasets.BenchmarkDataError, match="bad mutation"):
        datasets.parse_mutation("H100A")


def test_ab_bind_parser_multiple_mutations_and_partners():
    variants = datasets.load_ab_bind(MINI / "ab_bind")
    multi = [v for v in variants if len(v.mutations) > 1]
    assert len(multi) == 1
    assert [str(m) for m in multi[0].mutations] == ["B:I53A", "B:T51A"]
    assert multi[0].is_alanine and not multi[0].is_single
    assert multi[0].partner_a == ("A",) and multi[0].partner_b == ("B",)
    ins = [v for v in variants if v.mutations and v.mutations[0].icode]
    assert ins[0].mutations[0].icode == "a"
    singles = [v for v in variants if v.is_single and v.complex == "1KTZ"]
    assert singles and all(v.structure.name == "1KTZ.pdb" for v in singles)


def test_bad_benchmark_input_names_file_and_field(tmp_path):
    shutil.copytree(MINI / "antibody_benchmark", tmp_path / "ab")
    tsv = tmp_path / "ab" / "cases.tsv"
    tsv.write_text(tsv.read_text().replace("Medium", "Hard"))
    with pytest.raises(datasets.BenchmarkDataError, match="cases.tsv: row .*Category.*Hard"):
        datasets.load_antibody_benchmark(tmp_path / "ab")
    with pytest.raises(datasets.BenchmarkDataError, match="no such file"):
        datasets.load_ab_bind(tmp_path)


# ------------------------------------------------------------------ DockQ vs DockQ 2.1.3


def _reference_models():
    ref = json.loads((DATA / "dockq" / "reference.json").read_text())
    assert ref["dockq_version"] == "2.1.3"
    return ref["models"]


@pytest.mark.parametrize("model", _reference_models(), ids=lambda m: m["model"])
def test_dockq_matches_dockq_package(model, tmp_path):
    native = tmp_path / "native.pdb"
    native.write_text(gzip.open(DATA / "dockq" / (model["native"] + ".gz"), "rt").read())
    atoms = datasets.read_atoms(native)
    rec = dockq.partner_from_atoms(atoms, ["A"])
    lig = dockq.partner_from_atoms(atoms, ["B"])
    t = model["transform"]
    rot, centre = np.array(t["rotation"]), np.array(t["centre"])
    moved = lig.transformed(rot, centre - rot @ centre + np.array(t["translation"]))
    got = dockq.dockq(rec, moved, rec, lig)
    assert got["dockq"] == pytest.approx(model["DockQ"], abs=1e-3)
    assert got["fnat"] == pytest.approx(model["fnat"], abs=1e-6)
    assert got["irmsd"] == pytest.approx(model["iRMSD"], abs=2e-3)
    assert got["lrmsd"] == pytest.approx(model["LRMSD"], abs=2e-3)
    assert got["capri"] == dockq.capri_class(model["fnat"], model["iRMSD"], model["LRMSD"])


def test_irmsd_of_a_hand_made_pose_is_analytic(tmp_path):
    """Ligand moved by |t| along the line joining the interface centroids: no rotation can
    do better than the centroid shift, so i-RMSD = |t| sqrt(n_r n_l) / n and L-RMSD = |t|."""
    model = _reference_models()[1]
    native = tmp_path / "native.pdb"
    native.write_text(gzip.open(DATA / "dockq" / (model["native"] + ".gz"), "rt").read())
    atoms = datasets.read_atoms(native)
    rec = dockq.partner_from_atoms(atoms, ["A"])
    lig = dockq.partner_from_atoms(atoms, ["B"])
    idx = np.arange(len(rec.keys)), np.arange(len(lig.keys))
    near = dockq._residue_contacts(rec, lig, idx[0], idx[1], 10.0)
    r_if, l_if = sorted({a for a, _ in near}), sorted({b for _, b in near})
    r_xyz, _ = dockq._backbone_pairs(rec, rec, idx[0], idx[0], r_if)
    l_xyz, _ = dockq._backbone_pairs(lig, lig, idx[1], idx[1], l_if)
    axis = l_xyz.mean(0) - r_xyz.mean(0)
    d = 0.8
    shift = d * axis / np.linalg.norm(axis)
    got = dockq.dockq(rec, lig.transformed(np.eye(3), shift), rec, lig)
    n_r, n_l = len(r_xyz), len(l_xyz)
    assert got["irmsd"] == pytest.approx(d * np.sqrt(n_r * n_l) / (n_r + n_l), rel=1e-9)
    assert got["lrmsd"] == pytest.approx(d, rel=1e-9)


def test_success_rates_and_capri_classes():
    ranked = [["incorrect", "acceptable"], ["medium"], ["incorrect"] * 12 + ["high"]]
    rates = metrics.success_rates(ranked, (1, 5, 10))
    assert rates["top1_acceptable"]["n"] == 1 and rates["top5_acceptable"]["n"] == 2
    assert rates["top10_medium"]["n"] == 1 and rates["top10_acceptable"]["of"] == 3
    assert dockq.capri_class(0.5, 0.9, 3.0) == "high"
    assert dockq.capri_class(0.3, 2.0, 9.0) == "medium"
    assert dockq.capri_class(0.1, 4.0, 20.0) == "acceptable"
    assert dockq.capri_class(0.09, 0.5, 0.5) == "incorrect"


# ------------------------------------------------------------------ statistics vs scipy


def test_correlations_match_scipy_and_bootstrap_brackets():
    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    y = 0.6 * x + rng.normal(scale=0.7, size=40)
    out = metrics.correlations(x, y, n_bootstrap=500, seed=1)
    assert out["pearson"]["value"] == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)
    assert out["spearman"]["value"] == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert out["kendall"]["value"] == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
    assert out["rmse"]["value"] == pytest.approx(np.sqrt(np.mean((x - y) ** 2)), abs=1e-12)
    for key in ("pearson", "spearman", "kendall", "rmse"):
        lo, hi = out[key]["ci95"]
        assert lo < out[key]["value"] < hi
    # Fisher-z 95 % interval of r as an independent check of the bootstrap width
    z, se = np.arctanh(out["pearson"]["value"]), 1 / np.sqrt(len(x) - 3)
    lo, hi = np.tanh(z - 1.96 * se), np.tanh(z + 1.96 * se)
    assert out["pearson"]["ci95"][0] == pytest.approx(lo, abs=0.1)
    assert out["pearson"]["ci95"][1] == pytest.approx(hi, abs=0.1)


def test_roc_auc_equals_mann_whitney_and_hotspots():
    rng = np.random.default_rng(5)
    exp = rng.exponential(1.0, size=60)
    pred = exp + rng.normal(scale=0.8, size=60)
    labels = exp >= 1.0
    u = stats.mannwhitneyu(pred[labels], pred[~labels]).statistic
    assert metrics.roc_auc(pred, labels) == pytest.approx(u / (labels.sum() * (~labels).sum()))
    h = metrics.hotspot_classification(pred, exp, 1.0)
    tp = int(((pred >= 1) & labels).sum())
    assert h["precision"] == pytest.approx(tp / (pred >= 1).sum())
    assert h["recall"] == pytest.approx(tp / labels.sum())


def test_cross_validated_calibration_leaves_the_group_out():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = 2 * x + 1
    y[0] = 100.0  # an outlier in group "a" must not calibrate group "a" itself
    groups = np.array(["a", "a", "b", "b", "c", "c"])
    cal = metrics.cross_validated_calibration(x, y, groups)
    a, b = np.polyfit(x[2:], y[2:], 1)
    assert cal[:2] == pytest.approx(a * x[:2] + b)


def test_cdrs_of_a_chain_with_unresolved_residues():
    """Residues missing from the coordinates (a chain break where the numbers jump) count
    as X, so the CDRs after the gap are found at the same residues as on the intact chain
    (a synthetic straight chain of the 5WK3 VH: C-N 1.33 Å, 3.8 Å per residue)."""
    from rankbind.benchmark import docking
    from rankbind.structures.sequences import ONE_TO_THREE

    seq = (
        "EVQLVQSGAEVKKPGESLKISCKGSGYSFTSYWIGWVRQMPGKGLEWMGIIDPSDSDTRYSPSFQGQVTISADKSISTAYLQW"
        "SSLKASDTAMYYCARVGPADVWDSFDYWGQGTLVTVSS"
    )

    def partner(drop: set[int]) -> dockq.Partner:
        keep = [k for k in range(1, len(seq) + 1) if k not in drop]
        atoms = [{n: np.array([3.8 * k + dx, 0.0, 0.0]) for n, dx in
                  (("N", 0.0), ("CA", 1.2), ("C", 2.47))} for k in keep]  # fmt: skip
        return dockq.Partner([("H", k, "") for k in keep],
                             [ONE_TO_THREE[seq[k - 1]] for k in keep], atoms)  # fmt: skip

    intact, info = docking.cdr_residues(partner(set()))
    assert info == {"H": "heavy"} and len(intact) == 5 + 17 + 12
    gapped = partner({40, 41, 42, 43})  # FR2 P-G-K-G unresolved
    text, where = docking.gapped_sequence(gapped, "H")
    assert text == seq[:39] + "XXXX" + seq[43:] and where[39:43] == [None] * 4
    assert docking.cdr_residues(gapped) == (intact, info)
    # the coordinates' sequence without the X's shifts H2 by 4: the rules find no H2 end
    from rankbind.errors import StructureError
    from rankbind.modelling.fab import heavy_cdrs

    with pytest.raises(StructureError, match="after CDR-H2"):
        heavy_cdrs(gapped.sequence("H")[0])


# ------------------------------------------------------------------ end to end (2 cases)


def test_docking_end_to_end_two_cases(tmp_path):
    from rankbind.benchmark import docking, suite

    settings = docking.DockingBenchmarkSettings(
        modes=("unrestrained", "epitope_paratope"),
        spacing=2.0,
        n_rotations=8,
        n_keep=5,
        batch=8,
        unbound=False,
    )
    data = suite.run_benchmark("docking", MINI / "antibody_benchmark", tmp_path, settings)
    assert data["n_ok"] == data["n_cases"] == 4
    for record in data["cases"]:
        res = record["result"]
        assert res["structures"] == "bound" and res["start_dockq"] < 0.23
        assert record["cpu_s"] >= 0 and 1 <= len(res["poses"]) <= 5
        assert [p["rank"] for p in res["poses"]] == list(range(1, len(res["poses"]) + 1))
        for p in res["poses"]:
            assert 0 <= p["dockq"] <= 1
            assert p["capri"] == dockq.capri_class(p["fnat"], p["irmsd"], p["lrmsd"])
    summary = data["summary"]["unrestrained"]["antibody_benchmark"]["all"]
    assert summary["n_cases"] == 2
    assert (tmp_path / "SUMMARY.md").read_text().count("| all |") == 2
    assert (tmp_path / "docking_success_vs_rank.png").stat().st_size > 1000
    # resumable: a second run skips every case
    again = suite.run_benchmark("docking", MINI / "antibody_benchmark", tmp_path, settings)
    assert all(r.get("skipped") for r in again["cases"])


def test_posed_ligand_undoing_the_random_start_is_native():
    """The pose transform composed with the random start: the pose whose rotation undoes
    the start and whose position is the native centroid reproduces the native exactly."""
    from rankbind.benchmark import docking
    from rankbind.modelling.docking import Pose

    case = datasets.load_antibody_benchmark(MINI / "antibody_benchmark")[0]
    s = docking.load_structures(case, docking.DockingBenchmarkSettings(unbound=False))
    rot0, t0 = docking.random_start(s["lig"].coordinates(), case.name, 0)
    start = s["lig"].transformed(rot0, t0)
    assert dockq.dockq(s["rec"], start, s["native_rec"], s["native_lig"])["dockq"] < 0.23
    centre = start.coordinates().mean(0)
    pose = Pose(1, rot0.T, s["lig"].coordinates().mean(0), 0.0, 0.0, 0.0, 0.0)
    placed = docking.posed_ligand(s["lig"], rot0, t0, pose, centre)
    got = dockq.dockq(s["rec"], placed, s["native_rec"], s["native_lig"])
    assert got["dockq"] == pytest.approx(1.0, abs=1e-9) and got["capri"] == "high"


def test_affinity_end_to_end_two_cases_with_prodigy_prot(tmp_path):
    from rankbind.benchmark import affinity, suite

    if shutil.which("prodigy") is None:
        pytest.fail("prodigy-prot (the reference program) is not installed: pip install -e .[test]")
    settings = affinity.AffinitySettings(estimators=("prodigy", "prodigy_prot"), n_bootstrap=50)
    data = suite.run_benchmark("affinity", MINI / "antibody_benchmark", tmp_path, settings)
    assert data["n_ok"] == 2
    for record in data["cases"]:
        est = record["result"]["estimators"]
        # rankbind's PRODIGY differs from the reference only in its SASA (mdtraj vs
        # freesasa/NACCESS radii): same contacts, ΔG within 1 kcal/mol
        assert est["prodigy"]["dg_kcal_per_mol"] == pytest.approx(
            est["prodigy_prot"]["dg_kcal_per_mol"], abs=1.0
        )
    assert "prodigy_prot" in (tmp_path / "SUMMARY.md").read_text()


@pytest.mark.slow
def test_ddg_end_to_end_two_variants(tmp_path):
    from rankbind.benchmark import ddg, suite

    settings = ddg.DDGSettings(
        n_bootstrap=50, mmgbsa_trim_nm=1.0, mmgbsa_relax_iterations=10, mmgbsa_salt_molar=0.0
    )
    data = suite.run_benchmark("ddg", MINI / "ab_bind", tmp_path, settings, limit=2)
    assert data["n_ok"] == 2
    for record in data["cases"]:
        est = record["result"]["estimators"]["mmgbsa"]
        assert np.isfinite(est["ddg_kcal_per_mol"]) and abs(est["ddg_kcal_per_mol"]) < 20
        # the stored eps_in = 1 components are the ddG, relaxed in the trimmed System
        parts = est["components_eps1_kJ_per_mol"]["GBn2"]
        assert sum(parts.values()) / 4.184 == pytest.approx(est["ddg_kcal_per_mol"])
        assert est["outside_trim"] or est["relax"]["max_iterations"] == 10
    assert (tmp_path / "SUMMARY.md").is_file()
    # mutant_start: by default a mutant is built from the prepared wild type (the start of
    # the wild type's own relax); from the relaxed wild type its relax starts lower
    again = suite.run_benchmark(
        "ddg", MINI / "ab_bind", tmp_path / "relaxed_start",
        settings.replace(mutant_start="relaxed_wild_type"), limit=2,
    )  # fmt: skip
    for first, second in zip(data["cases"], again["cases"], strict=True):
        a = first["result"]["estimators"]["mmgbsa"]
        b = second["result"]["estimators"]["mmgbsa"]
        if not a["outside_trim"]:
            assert b["relax"]["energy_before_kJ_per_mol"] < a["relax"]["energy_before_kJ_per_mol"]


def test_benchmark_task_runs_one_case_and_resumes(tmp_path):
    """The protocol task kind: one case per call, result file written, then skipped."""
    from types import SimpleNamespace

    from rankbind.benchmark import runner, suite

    params = {
        "kind": "affinity",
        "dataset": str(MINI / "antibody_benchmark"),
        "case": "2W9E",
        "settings": {"estimators": ["prodigy"], "n_bootstrap": 10},
    }
    ctx = SimpleNamespace(directory=tmp_path, params=params, inputs={}, system=None)
    first = suite.benchmark_task(ctx)
    assert first["status"] == "ok" and Path(first["file"]).is_file()
    stored = json.loads(Path(first["file"]).read_text())
    assert stored["result"]["dg_exp_kcal_per_mol"] == -13.49
    assert stored["result"]["estimators"]["prodigy"]["dg_kcal_per_mol"] < 0
    assert suite.benchmark_task(ctx)["skipped"] is True
    # collect() builds the summary from the finished case files alone
    data = suite.collect(
        "affinity",
        MINI / "antibody_benchmark",
        tmp_path,
        suite.settings_from_params("affinity", params["settings"]),
    )
    assert data["n_cases"] == 1 and (tmp_path / "SUMMARY.md").is_file()
    assert runner.case_path(tmp_path, "2W9E") == Path(first["file"])
    with pytest.raises(Exception, match="unknown settings"):
        suite.settings_from_params("affinity", {"frames": 3})
