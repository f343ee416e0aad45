"""Docking score fitting (rankbind.benchmark.docking_scoring): leave-one-case-out folds
never train on the held-out case; the fitted score of stored poses equals a direct
recomputation of the pose (numpy reference scorer) with the weights as DockingSettings;
the ranking loss recovers known weights on synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rankbind.benchmark import docking_scoring as ds
from rankbind.errors import RankbindError

MINI = Path(__file__).parent / "data" / "benchmark" / "antibody_benchmark"


def _synthetic_case(name, category, rng, w_true, n=60):
    """Random score terms; the 6 poses of highest w_true . terms are 'acceptable'.
    Poses are spread 20 Å apart so that no two cluster together."""
    x = rng.normal(size=(n, len(ds.FEATURES))) * [30, 10, 5, 40, 8, 20]
    cols = [ds.FEATURES.index(f) for f in ds.FIT_FEATURES]
    s = x[:, cols] @ w_true
    capri = np.zeros(n, dtype=np.int8)
    capri[np.argsort(-s)[:6]] = 1
    return {
        "features": x,
        "capri": capri,
        "dockq": capri * 0.3,
        "rotations": np.repeat(np.eye(3, dtype=np.float32)[None], n, 0),
        "positions": (20.0 * np.arange(n)[:, None] * [1, 0, 0]).astype(np.float32),
        "ca": rng.normal(size=(10, 3)).astype(np.float32),
        "meta": {"case": name, "category": category},
    }


def test_loco_folds_never_train_on_the_held_out_case(monkeypatch):
    rng = np.random.default_rng(0)
    w_true = np.array([1.0, -2.0, -3.0, -0.5, 0.8])
    cases = [_synthetic_case(f"C{i}", "Rigid" if i % 2 else "Medium", rng, w_true)
             for i in range(5)]  # fmt: skip
    folds = ds.loco_folds([c["meta"]["case"] for c in cases])
    assert sorted(t for _, t in folds) == [f"C{i}" for i in range(5)]
    assert all(test not in train and len(train) == 4 for train, test in folds)
    seen = []
    real_fit = ds.fit_weights
    monkeypatch.setattr(ds, "fit_weights", lambda cs, l2, m: seen.append(
        [c["meta"]["case"] for c in cs]) or real_fit(cs, l2, m))  # fmt: skip
    res = ds.cross_validate(ds.Dataset(cases))
    seen = seen[:: len(ds.MODELS)]  # one call per model and fold
    assert len(seen) == 5
    for row, names in zip(res["per_case"], seen, strict=True):
        assert row["case"] not in names and len(names) == 4
    # the generating weights are recovered up to scale (shape weight 1) and rank the
    # held-out case's acceptable poses first
    w = real_fit(cases, 1e-4)
    assert w[0] == 1.0
    assert np.allclose(w, w_true, rtol=0.3, atol=0.3)
    assert res["summary"]["fitted"]["all"]["top1"] == [5, 5]
    with pytest.raises(RankbindError, match="duplicate"):
        ds.Dataset([cases[0], cases[0]])


@pytest.fixture(scope="module")
def mini_poses():
    """(case, settings, pose data) of 2W9E (mini benchmark, few rotations)."""
    from rankbind.benchmark.datasets import load_antibody_benchmark

    case = next(c for c in load_antibody_benchmark(MINI) if c.name == "2W9E")
    settings = ds.ScoringDataSettings(spacing=2.0, rotation_spacing_deg=45.0, n_top=6)
    return case, settings, ds.case_poses(case, "epitope_paratope", settings)


def test_fitted_score_ranking_equals_direct_recomputation(mini_poses):
    """Poses of a benchmark case (2W9E, bound structures, few rotations) rebuilt from the
    stored transforms and rescored by score_pose_direct with the weights as
    DockingSettings: same score as w . stored terms, so the same ranking."""
    from rankbind.benchmark import docking as bd
    from rankbind.modelling import docking as dk

    case, settings, data = mini_poses
    meta = json.loads(str(data["meta"]))
    assert meta["settings_key"] == settings.key() and len(data["dockq"]) >= 3
    assert set(data["capri"]) <= {0, 1, 2, 3} and np.all(
        (0 <= data["dockq"]) & (data["dockq"] <= 1)
    )
    weights = np.array([1.0, -0.7, -2.5, -0.2, 0.3])
    scoring = ds.weights_to_settings(weights, settings.docking_settings())
    assert (scoring.elec_weight, scoring.desolv_weight, scoring.pair_weight,
            scoring.restraint_weight) == (0.7, 2.5, 0.2, 0.3)  # fmt: skip
    # the molecules the stored poses act on, rebuilt through the benchmark API
    bench = settings.bench_settings("epitope_paratope")
    s = bd.load_structures(case, bench)
    rec_keys, lig_keys, _ = bd.restraints(case, s, "epitope_paratope", bench)
    rot0, t0 = bd.random_start(s["lig"].coordinates(), case.name, bench.seed)
    receptor = dk.molecule_from_partner(s["rec"], rec_keys)
    ligand = dk.molecule_from_partner(s["lig"].transformed(rot0, t0), lig_keys)
    centre = ligand.xyz.mean(0)
    direct = []
    for rot, pos in zip(data["rotations"], data["positions"], strict=True):
        placed = (ligand.xyz - centre) @ rot.astype(float).T + pos
        direct.append(dk.score_pose_direct(receptor, placed, ligand, scoring)["score"])
    case_dict = data | {"meta": meta}
    fitted = ds.fitted_score(case_dict, weights)
    assert np.allclose(fitted, direct, rtol=1e-4, atol=0.05)
    assert list(ds.ranking(case_dict, "fitted", weights)) == list(np.argsort(-np.array(direct)))
    # the legacy score + restraint count model, as DockingSettings, likewise
    scoring2 = ds.weights_to_settings([1.0, 0.4], settings.docking_settings(), "legacy_restraint")
    assert (scoring2.elec_weight, scoring2.restraint_weight) == (1.0, 0.4)
    direct2 = [
        dk.score_pose_direct(receptor, (ligand.xyz - centre) @ r.T + p, ligand, scoring2)["score"]
        for r, p in zip(data["rotations"], data["positions"], strict=True)
    ]
    fitted2 = ds.fitted_score(case_dict, [1.0, 0.4], "legacy_restraint")
    assert np.allclose(fitted2, direct2, rtol=1e-4, atol=0.05)
    # the legacy ranking is the scan's order (stored poses are kept in it)
    assert list(ds.ranking(case_dict, "legacy")) == list(range(len(direct)))
    # re-scoring the stored poses on the lattice they were scanned on gives back the
    # terms, the restraint count included (that column comes from the FFT scan itself);
    # on a finer lattice the shape term changes
    same = ds.rescore_at_spacing(case, case_dict, settings.spacing)
    assert np.allclose(same["features"], data["features"], rtol=1e-4, atol=1e-3)
    assert same["meta"]["rescored_spacing"] == settings.spacing
    finer = ds.rescore_at_spacing(case, case_dict, 1.5)
    k = ds.FEATURES.index("shape")
    assert not np.allclose(finer["features"][:, k], data["features"][:, k])


def test_stored_poses_rebuilt_give_the_stored_dockq(mini_poses):
    """pose_frame + pose_metrics rebuild each stored pose from the seed as one rigid
    transform of the docked structure file: DockQ, fnat and CAPRI class equal those
    case_poses computed (two moves: random start, then the pose); the transform applied to
    the start ligand's C-alpha gives the stored C-alpha placement; cluster representatives
    are the clustered_capri ones, >= cluster_rmsd apart; a frame of other structures is
    refused."""
    case, _, data = mini_poses
    case_dict = data | {"meta": json.loads(str(data["meta"]))}
    frame = ds.pose_frame(case, case_dict)
    ca_file = np.array([r["CA"] for r in frame.structures["lig"].atoms if "CA" in r])
    for i in range(len(data["dockq"])):
        m = ds.pose_metrics(frame, case_dict, i)
        assert m["dockq"] == pytest.approx(data["dockq"][i], abs=1e-9)
        assert m["fnat"] == pytest.approx(data["fnat"][i], abs=1e-9)
        assert ds.CAPRI_RANK[m["capri"]] == data["capri"][i]
        rot, t = frame.transform(data["rotations"][i], data["positions"][i])
        stored = data["ca"] @ data["rotations"][i].astype(float).T + data["positions"][i]
        assert np.allclose(ca_file @ rot.T + t, stored, atol=1e-3)
    order = np.arange(len(data["dockq"]))[::-1]
    reps = ds.cluster_representatives(case_dict, order, 6.0, 10)
    assert reps[0] == order[0]
    assert [int(data["capri"][i]) for i in reps] == ds.clustered_capri(case_dict, order, 6.0)
    placed = [data["ca"] @ data["rotations"][i].astype(float).T + data["positions"][i]
              for i in reps]  # fmt: skip
    for a in range(len(placed)):
        for b in range(a):
            assert np.sqrt(np.mean(np.sum((placed[a] - placed[b]) ** 2, 1))) >= 6.0
    shifted = case_dict | {"ca": data["ca"] + 0.5}
    with pytest.raises(RankbindError, match="C-alpha"):
        ds.pose_frame(case, shifted)
