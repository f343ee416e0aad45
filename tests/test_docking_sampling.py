"""gpu_bench/docking_sampling.py: the native orientation's cone angle is the one the docking
scan tests (checked in the randomised start frame with the scan's own cone_mask), and the
rung-to-rung comparison counts against a hand count."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "gpu_bench"
sys.path.insert(0, str(BENCH))
MINI = Path(__file__).parent / "data" / "benchmark" / "antibody_benchmark"


def test_native_cone_angle_is_what_the_scan_tests_in_the_start_frame(tmp_path):
    """For each mini case: the native rotation of the docking frame (rot0.T, undoing the
    benchmark's random start) passes ``cone_mask`` with the start-frame ligand vector at
    the measured angle + 0.2° and fails at - 0.2°."""
    from docking_sampling import native_cone_angles

    from rankbind.benchmark import docking as bd
    from rankbind.benchmark import suite
    from rankbind.modelling.docking import molecule_from_partner
    from rankbind.modelling.rotations import cone_mask
    from rankbind.settings import DockingBenchmarkSettings

    angles = native_cone_angles(MINI, tmp_path, "epitope_paratope", include_rankbind=False)
    settings = DockingBenchmarkSettings(modes=("epitope_paratope",))
    cases = suite.load_cases("docking", MINI, tmp_path, False)
    assert sorted(angles) == sorted(c.name for c in cases) and len(cases) >= 2
    for case in cases:
        s = bd.load_structures(case, settings)
        rec_keys, lig_keys, _ = bd.restraints(case, s, "epitope_paratope", settings)
        rot0, t0 = bd.random_start(s["lig"].coordinates(), case.name, settings.seed)
        rec = molecule_from_partner(s["rec"], rec_keys)
        lig = molecule_from_partner(s["lig"].transformed(rot0, t0), lig_keys)
        lv = lig.xyz[lig.restraint].mean(0) - lig.xyz.mean(0)
        tv = rec.xyz.mean(0) - rec.xyz[rec.restraint].mean(0)
        native = rot0.T[None]
        assert 0.0 <= angles[case.name] <= 180.0
        assert cone_mask(native, lv, tv, angles[case.name] + 0.2)[0], case.name
        if angles[case.name] > 0.2:
            assert not cone_mask(native, lv, tv, angles[case.name] - 0.2)[0], case.name


def test_compare_counts_and_gains_against_a_hand_count():
    from docking_sampling import compare

    def row(first_acc, first_med=None, group="Rigid"):
        return {"group": group, "n_rotations": 10, "cpu_s": 1.0, "first_acceptable": first_acc,
                "first_medium": first_med, "best_dockq_top10": 0.1}  # fmt: skip

    coarse = {"A": row(None), "B": row(1, 1), "C": row(7), "D": row(2, group="Medium"),
              "X": row(1)}  # fmt: skip
    fine = {"A": row(1, 3), "B": row(12), "C": row(1), "D": row(None, group="Medium")}
    out = compare({"coarse": coarse, "fine": fine}, {"A": 10.0, "B": 70.0, "C": 59.0, "D": 0.0},
                  60.0)  # fmt: skip
    assert out["common_cases"] == ["A", "B", "C", "D"]  # X: not finished by every run
    r = out["runs"]
    assert [r["coarse"]["by_group"]["all"][f"top{t}_acceptable"] for t in (1, 5, 10)] == [1, 2, 3]
    assert [r["fine"]["by_group"]["all"][f"top{t}_acceptable"] for t in (1, 5, 10)] == [2, 2, 2]
    assert r["coarse"]["by_group"]["all"]["top1_medium"] == 1
    assert r["fine"]["by_group"]["all"]["top5_medium"] == 1
    assert r["fine"]["by_group"]["Medium"]["cases"] == 1
    assert r["fine"]["by_group"]["native outside 60.0°"]["cases"] == 1
    assert out["outside_cone"] == ["B"]
    step = out["steps"]["coarse -> fine"]
    assert (step["top1"]["gained"], step["top1"]["lost"]) == (["A", "C"], ["B"])
    assert (step["top10"]["gained"], step["top10"]["lost"]) == (["A"], ["B", "D"])
    # exact two-sided binomial: 1 of 3 discordant, p = 1.0
    assert step["top10"]["sign_test_p_two_sided"] == 1.0
    assert sum(r["fine"]["by_group"][g]["cases"] for g in ("Rigid", "Medium")) == 4
