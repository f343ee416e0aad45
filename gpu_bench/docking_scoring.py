"""Docking score weights fitted by leave-one-case-out cross-validation
(:mod:`rankbind.benchmark.docking_scoring`).

``build``: the pose dataset (top legacy-score FFT poses per case with every score term and
DockQ/CAPRI vs the bound complex), one compressed npz per case and mode under
gpu_bench/results/docking_scoring/<mode>/cases/ (resumable; refuses other settings).
``cv``: fit + evaluate, writes gpu_bench/results/docking_scoring/cv.json and cv.md.
``spacing``: the epitope_paratope poses re-scored on another grid (same poses,
:func:`rankbind.benchmark.docking_scoring.rescore_at_spacing`; one npz per case under
spacing/<h>/cases, resumable), how each term scales against the stored 1.5 Å values, and
whether restraint_weight should scale with the grid: leave-one-case-out refit at that
spacing against the fixed weights 2.88 and 2.88 x (1.5/h)^3; writes spacing/<h>/spacing.json
and spacing.md.

``reweight``: restraint_weight checked on the full benchmark runs at their own grid
(gpu_bench/results/accuracy/docking_full and docking_full_restraint_weight, 2.0 Å): the
epitope_paratope poses of both runs pooled per case (legacy score recovered as score -
restraint_weight x count), re-ranked for a grid of weights; top-1 acceptable-or-better for
fixed weights (0, 2.88 x (1.5/2)^3, 2.88) and for the weight chosen leave-one-case-out;
the top-pose legacy score of the 2.0 Å run against the 1.5 Å pose dataset's, per case.
Writes spacing/reweight_full_runs.json and .md.

Usage:
  python gpu_bench/docking_scoring.py build [--modes epitope_paratope paratope]
  python gpu_bench/docking_scoring.py cv
  python gpu_bench/docking_scoring.py spacing --spacing 2.0
  python gpu_bench/docking_scoring.py reweight
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


def spacing(args) -> None:
    h = args.spacing
    src = OUT / "epitope_paratope"
    out = OUT / "spacing" / f"{h:g}"
    base = [ds.load_case(p) for p in sorted((src / "cases").glob("*.npz"))]
    ref_h = base[0]["meta"]["settings"]["spacing"]
    cases = all_cases()
    rescored = []
    for data in base:
        path = out / "cases" / f"{data['meta']['case']}__epitope_paratope.npz"
        if not path.is_file():
            new = ds.rescore_at_spacing(cases[data["meta"]["case"]], data, h)
            ds.save_case(path, {k: v for k, v in new.items() if k != "meta"}
                         | {"meta": np.array(json.dumps(new["meta"]))})  # fmt: skip
            print(data["meta"]["case"], new["meta"]["cpu_s"], flush=True)
        rescored.append(ds.load_case(path))
    # how each term scales: per case, median ratio new/stored over poses with a nonzero term
    ratios = {}
    for name in ("shape", "energy_kcal", "restraint_atoms"):
        k = ds.FEATURES.index(name)
        per_case = []
        for a, b in zip(base, rescored, strict=True):
            ok = np.abs(a["features"][:, k]) > 1e-6
            if ok.any():
                per_case.append(float(np.median(b["features"][ok, k] / a["features"][ok, k])))
        ratios[name] = {"median_over_cases": round(float(np.median(per_case)), 4),
                        "min": round(min(per_case), 4), "max": round(max(per_case), 4)}  # fmt: skip
    expected = (ref_h / h) ** 3
    res = ds.cross_validate(ds.Dataset(rescored), l2=args.l2)
    fixed = {}
    for label, w in (("0", 0.0), ("2.88", 2.88), (f"2.88x(1.5/{h:g})^3", 2.88 * expected)):
        firsts = []
        for c in rescored:
            order = np.argsort(-(ds.legacy_score(c) + w * ds.columns(c, "legacy_restraint")[:, 1]),
                               kind="stable")  # fmt: skip
            classes = ds.clustered_capri(c, order, n_keep=10)
            firsts.append(next((k + 1 for k, x in enumerate(classes) if x > 0), None))
        fixed[label] = {f"top{n}": sum(r is not None and r <= n for r in firsts)
                        for n in (1, 5, 10)} | {"weight": round(w, 4)}  # fmt: skip
    folds = [r["weights"]["legacy_restraint"] for r in res["per_case"]]
    folds = np.array([w for w in folds if w and w[0] == 1.0])
    report = {
        "label": "same poses (1.5 Å legacy scan, epitope_paratope) re-scored on another grid",
        "spacing": h,
        "stored_spacing": ref_h,
        "n_cases": len(rescored),
        "term_ratio_new_over_stored": ratios,
        "expected_ratio_if_shape_scales_as_h^-3": round(expected, 4),
        "fixed_weights": fixed,
        "cv_fitted_restraint": res["summary"]["fitted_restraint"]["all"],
        "cv_legacy": res["summary"]["legacy"]["all"],
        "restraint_weight_over_folds": {
            "mean": round(float(folds[:, 1].mean()), 3),
            "sd": round(float(folds[:, 1].std(ddof=1)), 3),
            "n_folds": len(folds),
        },  # fmt: skip
        "restraint_weight_all_cases": round(
            float(ds.fit_weights(rescored, args.l2, "legacy_restraint")[1]), 3
        ),
        "cpu_s_rescore": round(sum(c["meta"]["cpu_s"]["rescore"] for c in rescored), 1),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(out / "spacing.json", report)
    lines = [f"# restraint_weight at grid {h:g} Å (poses of the {ref_h:g} Å scan re-scored)", "",
             f"{len(rescored)} epitope_paratope cases, the stored 200 legacy-scan poses each; "
             f"CPU {report['cpu_s_rescore']:.0f} s.", "",
             "Term ratio (re-scored / stored, median over poses per case; median [min, max] "
             f"over cases; (1.5/h)^3 = {expected:.3f}): " + "; ".join(
                 f"{k} {v['median_over_cases']} [{v['min']}, {v['max']}]" for k, v in ratios.items()),
             "", "| ranking at this grid | top1 | top5 | top10 |", "|---|---|---|---|"]  # fmt: skip
    for label, v in fixed.items():
        lines.append(f"| legacy + w x restraint, w = {label} = {v['weight']} | {v['top1']} | {v['top5']} "
                     f"| {v['top10']} |")  # fmt: skip
    cv_row = " | ".join(str(k) for k, _ in res["summary"]["fitted_restraint"]["all"].values())
    lines += [f"| legacy + refitted weight (leave one case out) | {cv_row} |", "",
              f"Refitted restraint_weight over folds {report['restraint_weight_over_folds']}; "
              f"on all cases {report['restraint_weight_all_cases']}."]  # fmt: skip
    write_text(out / "spacing.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def reweight(args) -> None:
    acc = ROOT / "gpu_bench/results/accuracy"
    runs = {}
    for name in ("docking_full", "docking_full_restraint_weight"):
        for f in sorted((acc / name / "cases").glob("*__epitope_paratope.json")):
            d = json.loads(f.read_text())
            if d.get("result") and d["result"].get("poses"):
                w = d["settings"]["docking_settings"]["restraint_weight"]
                spacing = d["settings"]["spacing"]
                runs.setdefault(d["result"]["case"], []).append((d["result"]["poses"], w))
    pools = {
        c: np.array([(q["score"] - w * q["restraint_atoms"], q["restraint_atoms"],
                      q["capri"] != "incorrect") for poses, w in r for q in poses])
        for c, r in sorted(runs.items()) if len(r) == 2
    }  # fmt: skip
    cases = list(pools)
    grid = np.round(np.arange(0.0, 8.001, 0.25), 2)

    def top1(c, w):
        pool = pools[c]
        return bool(pool[np.argmax(pool[:, 0] + w * pool[:, 1]), 2])

    hits = np.array([[top1(c, w) for w in grid] for c in cases])
    loco = []
    for i, c in enumerate(cases):  # weight with most training successes (middle of ties)
        train = np.delete(hits, i, 0).sum(0)
        best = np.flatnonzero(train == train.max())
        w = float(grid[best[len(best) // 2]])
        loco.append({"case": c, "weight": w, "top1": top1(c, w)})
    scaled = 2.88 * (1.5 / spacing) ** 3
    base = {p.name.split("__")[0]: ds.load_case(p)
            for p in sorted((OUT / "epitope_paratope" / "cases").glob("*.npz"))}  # fmt: skip
    ratio = [float(np.mean(pools[c][:, 0][: len(pools[c]) // 2][:10])
                   / ds.legacy_score(base[c])[:10].mean())
             for c in cases if c in base]  # fmt: skip
    report = {
        "label": "stored poses of the full benchmark runs re-ranked (no new docking)",
        "spacing": spacing,
        "n_cases": len(cases),
        "n_cases_with_acceptable_pose_in_pool": int(sum(pools[c][:, 2].any() for c in cases)),
        "top1_fixed": {
            f"{w:.3g}": int(sum(top1(c, w) for c in cases)) for w in (0.0, scaled, 2.88)
        },  # fmt: skip
        "top1_by_weight": {f"{w:g}": int(k) for w, k in zip(grid, hits.sum(0), strict=True)},
        "top1_loco": int(sum(r["top1"] for r in loco)),
        "loco_weights": sorted({r["weight"] for r in loco}),
        "legacy_top10_ratio_2A_over_1p5A": {
            "n_cases": len(ratio),
            "median": round(float(np.median(ratio)), 3),
            "min": round(min(ratio), 3),
            "max": round(max(ratio), 3),
            "expected_if_shape_scaled_as_h^-3": round((1.5 / spacing) ** 3, 3),
            # what the 1.5 Å legacy score is made of (top 10 per case, median over cases):
            # electrostatics, which do not scale with the grid, outweigh the shape term
            "shape_top10_median_1p5A": round(
                float(np.median([base[c]["features"][:10, 0].mean() for c in base])), 1
            ),
            "minus_E_kcal_top10_median_1p5A": round(
                float(np.median([-base[c]["features"][:10, 1].mean() for c in base])), 1
            ),
        },  # fmt: skip
        "per_case_loco": loco,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = OUT / "spacing"
    write_json(out / "reweight_full_runs.json", report)
    r = report["legacy_top10_ratio_2A_over_1p5A"]
    lines = [
        f"# restraint_weight at the full runs' grid ({spacing:g} Å): stored poses re-ranked", "",
        f"{len(cases)} epitope_paratope cases (poses of the w = 0 and w = 2.88 runs pooled, "
        f"20 per case; {report['n_cases_with_acceptable_pose_in_pool']} with an acceptable+ pose).",
        "", "| ranking | top-1 acceptable+ |", "|---|---|",
        *[f"| legacy + {w} x restraint (fixed) | {k}/{len(cases)} |"
          for w, k in report["top1_fixed"].items()],
        f"| legacy + weight chosen leave-one-case-out | {report['top1_loco']}/{len(cases)} "
        f"(weights chosen: {report['loco_weights']}) |", "",
        "Top-1 by weight: " + ", ".join(f"{w}: {k}" for w, k in report["top1_by_weight"].items()),
        "", f"Top-10 legacy score, {spacing:g} Å run / 1.5 Å pose set, per case: median "
        f"{r['median']} [{r['min']}, {r['max']}] over {r['n_cases']} cases; (1.5/h)^3 = "
        f"{r['expected_if_shape_scaled_as_h^-3']}. The 1.5 Å top-10 legacy score is shape "
        f"{r['shape_top10_median_1p5A']} + (-E) {r['minus_E_kcal_top10_median_1p5A']} "
        "(medians over cases): electrostatics, which do not scale with the grid, dominate.",
    ]  # fmt: skip
    write_text(out / "reweight_full_runs.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument(
        "--modes", nargs="+", choices=sorted(MODE_SETTINGS), default=sorted(MODE_SETTINGS)
    )
    c = sub.add_parser("cv")
    c.add_argument("--l2", type=float, default=1e-2)
    sp = sub.add_parser("spacing")
    sp.add_argument("--spacing", type=float, default=2.0)
    sp.add_argument("--l2", type=float, default=1e-2)
    sub.add_parser("reweight")
    args = p.parse_args()
    {"build": build, "cv": cv, "spacing": spacing, "reweight": reweight}[args.cmd](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
