"""Docking score weights fitted by leave-one-case-out cross-validation
(:mod:`rankbind.benchmark.docking_scoring`).

``build``: the pose dataset (top legacy-score FFT poses per case with every score term and
DockQ/CAPRI vs the bound complex), one compressed npz per case and mode under
gpu_bench/results/docking_scoring/<mode>/cases/ (resumable; refuses other settings).
``cv``: fit + evaluate, writes gpu_bench/results/docking_scoring/cv.json and cv.md.

Usage:
  python gpu_bench/docking_scoring.py build [--modes epitope_paratope paratope]
  python gpu_bench/docking_scoring.py cv
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rankbind.benchmark import docking_scoring as ds  # noqa: E402
from rankbind.benchmark.datasets import load_antibody_benchmark, rankbind_cases  # noqa: E402
from rankbind.fileio import write_json, write_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "gpu_bench/results/docking_scoring"
BENCH = Path(os.environ.get("RANKBIND_ANTIBODY_BENCHMARK",
                            "/work/shared/benchmarks/antibody_benchmark"))  # fmt: skip
# Development cases (CPU-sized subset, fixed before any result was seen): every other
# Rigid case in cases.tsv order (the two hexameric haemagglutinins 4FQI/4GXU left out for
# grid size), every other Medium case, the Difficult one, rankbind's 3 RANKL complexes;
# listed with the categories interleaved, so that a run cut short stays balanced.
SUBSETS = {
    "epitope_paratope": ["1S78", "3U7Y", "5O14", "2DD8", "5WK3", "4ETQ", "3URF", "6A77", "4POU",
                         "4GIQ", "6CWG", "5E5M", "4DW2", "1AHW", "5HYS", "3ME2", "1JPS", "5VNW",
                         "2FD6", "6EY6", "2VIS", "3G6D", "3RVW", "3L5W", "4G6J"],
    "paratope": ["5O14", "2DD8", "1AHW", "4ETQ", "6A77", "5HYS", "3RVW", "4DW2", "1S78", "6EY6",
                 "2FD6", "3L5W", "4G6J", "4POU"],
}  # fmt: skip
# Sampling per mode (the FFT scan is the CPU cost: paratope-only runs have no orientation
# cone, the ligand restraint being the whole antigen, so they sample more coarsely).
MODE_SETTINGS = {
    "epitope_paratope": ds.ScoringDataSettings(spacing=1.5, rotation_spacing_deg=20.0, n_top=200),
    "paratope": ds.ScoringDataSettings(spacing=1.5, rotation_spacing_deg=30.0, n_top=200),
}


def all_cases() -> dict:
    cases = {c.name: c for c in load_antibody_benchmark(BENCH)}
    cases |= {c.name: c for c in rankbind_cases("/tmp/rankbind_docking_scoring_cases")}
    return cases


def build(args) -> None:
    """Cases of every mode in MODE_SETTINGS, interleaved (two epitope_paratope cases,
    then one paratope case), each mode with its own settings and directory."""
    cases = all_cases()
    queues = {m: list(SUBSETS[m]) for m in args.modes}
    plan = []
    while any(queues.values()):
        for mode, k in (("epitope_paratope", 2), ("paratope", 1)):
            for _ in range(k):
                if queues.get(mode):
                    plan.append((mode, queues[mode].pop(0)))
    for mode in args.modes:
        print(f"build {mode}: {len(SUBSETS[mode])} cases, {MODE_SETTINGS[mode]}", flush=True)
    t0 = time.process_time()
    for mode, name in plan:
        ds.build([cases[name]], [mode], MODE_SETTINGS[mode], OUT / mode,
                 log=lambda m: print(m, flush=True))  # fmt: skip
    print(f"done: CPU {time.process_time() - t0:.0f} s this run", flush=True)


def cv(args) -> None:
    report = {"label": "leave-one-case-out CV of docking score weights", "modes": {}}
    lines = ["# Docking scoring, cross-validated (leave one case out)", ""]
    for mode_dir in sorted(p for p in OUT.iterdir() if (p / "cases").is_dir()):
        cases = [ds.load_case(p) for p in sorted((mode_dir / "cases").glob("*.npz"))]
        if len(cases) < 3:
            continue
        res = ds.cross_validate(ds.Dataset(cases), l2=args.l2)
        meta = cases[0]["meta"]
        res |= {
            "settings": meta["settings"],
            "n_cases": len(cases),
            "n_cases_with_acceptable_pose": sum(int((c["capri"] > 0).any()) for c in cases),
            "weights_all_cases": {
                m: dict(zip(terms, map(float, ds.fit_weights(cases, args.l2, m)), strict=True))
                for m, terms in ds.MODELS.items()
            },
            "cpu_s_build": round(sum(sum(c["meta"]["cpu_s"].values()) for c in cases), 1),
        }
        report["modes"][mode_dir.name] = res
        lines += [f"## {mode_dir.name}", "", f"Settings: {meta['settings']}; "
                  f"{len(cases)} cases, {res['n_cases_with_acceptable_pose']} with an "
                  f"acceptable-or-better pose among the kept FFT poses.", "",
                  "| scorer | class | top1 | top5 | top10 |", "|---|---|---|---|---|"]  # fmt: skip
        for scorer, groups in res["summary"].items():
            for g, tops in groups.items():
                cells = " | ".join(f"{k}/{n}" for k, n in tops.values())
                lines.append(f"| {scorer} | {g} | {cells} |")
        # per model: folds whose first weight came out positive (normalised to 1) map
        # onto DockingSettings; the others are counted
        res["weights_over_folds"] = {}
        for m, terms in ds.MODELS.items():
            fold_w = [r["weights"][m] for r in res["per_case"] if r["weights"][m]]
            folds = np.array([w for w in fold_w if w[0] == 1.0])
            res["weights_over_folds"][m] = {
                "n_folds_first_weight_not_positive": len(fold_w) - len(folds),
                **{t: {"mean": float(folds[:, k].mean()), "sd": float(folds[:, k].std(ddof=1))}
                   for k, t in enumerate(terms) if len(folds) > 1},
            }  # fmt: skip
        lines += ["", "First acceptable-or-better cluster rank per held-out case (— none "
                  "in the top 10; n acc = acceptable+ poses among the kept FFT poses):", "",
                  "| case | class | n acc | " + " | ".join(ds.SCORERS) + " |",
                  "|---|---|---|" + "---|" * len(ds.SCORERS)]  # fmt: skip
        for r in res["per_case"]:
            ranks = " | ".join("—" if r[k] is None else str(r[k]) for k in ds.SCORERS)
            lines.append(f"| {r['case']} | {r['category']} | {r['n_acceptable_poses']} | {ranks} |")
        for m, stats in res["weights_over_folds"].items():
            spread = ", ".join(f"{t} {v['mean']:.3g} ± {v['sd']:.2g}"
                               for t, v in stats.items() if isinstance(v, dict))  # fmt: skip
            every = ", ".join(f"{t} {v:.4g}" for t, v in res["weights_all_cases"][m].items())
            lines += ["", f"Model `{m}` weights (raw units, first term = 1): over the folds "
                      f"(mean ± sd; {stats['n_folds_first_weight_not_positive']} folds with a "
                      f"non-positive first weight left out) {spread}; fitted on all cases: {every}."]  # fmt: skip
        lines.append("")
    report |= {"l2": args.l2, "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_json(OUT / "cv.json", report)
    write_text(OUT / "cv.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps({m: r["weights_all_cases"] for m, r in report["modes"].items()}))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument(
        "--modes", nargs="+", choices=sorted(MODE_SETTINGS), default=sorted(MODE_SETTINGS)
    )
    c = sub.add_parser("cv")
    c.add_argument("--l2", type=float, default=1e-2)
    args = p.parse_args()
    build(args) if args.cmd == "build" else cv(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
