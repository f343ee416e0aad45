"""Does finer rotational sampling rescue epitope + paratope docking? (issue 16, item 1)

Compares ``rankbind benchmark docking`` runs of the antibody benchmark that differ only in
their rotation set (and the orientation cone), case by case on the cases every run
finished, from the committed results.json of each run: the rotations searched, CPU time,
first acceptable-or-better (CAPRI) rank, top-1/5/10 acceptable+ and medium+ per
difficulty class, and, between consecutive rungs, the cases gained and lost at top 1 and
top 10 with an exact sign test and a bootstrap-by-case interval of the rate difference.
With ``--dataset``, also the native orientation's angle to the orientation-cone axis per
case (the angle ``search_rotations`` tests, measured on the unbound partners in the
benchmark's native frame, before the random start), so the cases a cone excludes are
named and success is split by it. Nothing is fitted.

Usage: python gpu_bench/docking_sampling.py LABEL=RUN_DIR [LABEL=RUN_DIR ...]
           [--mode epitope_paratope] [--dataset BENCHMARK_DIR --cone 60] [--out DIR]
writes DIR/sampling.json and DIR/SAMPLING.md (default DIR: the last run's directory).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from docking_mmgbsa_rescoring import RANKL, bootstrap_diff, group_of, sign_test  # noqa: E402

from rankbind.analysis.dockq import CAPRI_RANK  # noqa: E402
from rankbind.fileio import write_json, write_text  # noqa: E402

TOPS = (1, 5, 10)
DB55 = "DB5.5 (unbound)"


def case_rows(run_dir: Path, mode: str) -> tuple[dict[str, dict], dict]:
    """{case: row} of the ok cases of one run in ``mode``, and the run's settings."""
    data = json.loads((run_dir / "results.json").read_text())
    rows = {}
    for rec in data["cases"]:
        res = rec.get("result")
        if rec["status"] != "ok" or res["mode"] != mode:
            continue
        levels = [CAPRI_RANK[p["capri"]] for p in res["poses"]]
        first = {
            lvl: next((i + 1 for i, v in enumerate(levels) if v >= lvl), None) for lvl in (1, 2)
        }
        rows[res["case"]] = {
            "group": group_of(res),
            "n_rotations": res["n_rotations"],
            "cpu_s": rec["cpu_s"],
            "first_acceptable": first[1],
            "first_medium": first[2],
            "best_dockq_top10": res["best_dockq_top10"],
        }
    return rows, data["settings"]


def native_cone_angles(
    dataset: Path, work: Path, mode: str, include_rankbind: bool = True
) -> dict[str, float]:
    """{case: degrees} between the ligand restraint vector turned by the native pose (the
    identity: the benchmark's unbound partners lie in the bound frame) and the cone axis,
    exactly as :func:`rankbind.modelling.docking.search_rotations` defines them."""
    from rankbind.benchmark import docking as bd
    from rankbind.benchmark import suite
    from rankbind.modelling.docking import molecule_from_partner
    from rankbind.settings import DockingBenchmarkSettings

    settings = DockingBenchmarkSettings(modes=(mode,))
    out = {}
    for case in suite.load_cases("docking", dataset, work, include_rankbind):
        s = bd.load_structures(case, settings)
        rec_keys, lig_keys, _ = bd.restraints(case, s, mode, settings)
        rec = molecule_from_partner(s["rec"], rec_keys)
        lig = molecule_from_partner(s["lig"], lig_keys)
        lv = lig.xyz[lig.restraint].mean(0) - lig.xyz.mean(0)
        tv = rec.xyz.mean(0) - rec.xyz[rec.restraint].mean(0)
        cos = lv @ tv / (np.linalg.norm(lv) * np.linalg.norm(tv))
        out[case.name] = round(float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))), 1)
    return out


def hits(rows: list[dict], top: int, key: str = "first_acceptable") -> np.ndarray:
    """1/0 per row: a pose of the level within the top ``top``."""
    return np.array([r[key] is not None and r[key] <= top for r in rows], dtype=int)


def compare(runs: dict[str, dict[str, dict]], angles: dict | None = None, cone=None) -> dict:
    """Per-run success on the common cases, per group (with ``angles``, also split by
    whether the native orientation lies within ``cone`` degrees), and paired rung-to-rung
    changes."""
    common = sorted(set.intersection(*(set(r) for r in runs.values())))
    labels = list(runs)
    groups = ["all", DB55] + sorted({runs[labels[0]][c]["group"] for c in common})
    inside = {c: angles[c] <= cone for c in common} if angles else {}
    if angles:
        groups += [f"native within {cone}°", f"native outside {cone}°"]

    def member(row: dict, g: str, case: str) -> bool:
        if g.startswith("native"):
            return inside[case] == ("within" in g)
        return g == "all" or row["group"] == g or (g == DB55 and row["group"] != RANKL)

    table = {}
    for label, rows in runs.items():
        per = {}
        for g in groups:
            sel = [rows[c] for c in common if member(rows[c], g, c)]
            per[g] = {"cases": len(sel)} | {
                f"top{t}_{lvl}": int(hits(sel, t, f"first_{lvl}").sum())
                for t in TOPS
                for lvl in ("acceptable", "medium")
            }
        sel = [rows[c] for c in common]
        table[label] = {
            "by_group": per,
            "rotations_median": statistics.median(r["n_rotations"] for r in sel),
            "cpu_s_total": round(sum(r["cpu_s"] for r in sel), 1),
            "cpu_s_median": round(statistics.median(r["cpu_s"] for r in sel), 1),
            "median_best_dockq_top10": round(
                statistics.median(r["best_dockq_top10"] for r in sel), 4
            ),
        }
    steps = {}
    for a, b in zip(labels, labels[1:], strict=False):
        step = {}
        for t in (1, 10):
            ha = hits([runs[a][c] for c in common], t)
            hb = hits([runs[b][c] for c in common], t)
            gained = [c for c, x, y in zip(common, ha, hb, strict=True) if y and not x]
            lost = [c for c, x, y in zip(common, ha, hb, strict=True) if x and not y]
            step[f"top{t}"] = {
                "gained": gained,
                "lost": lost,
                "sign_test_p_two_sided": sign_test(len(gained), len(lost)),
                "rate_difference_95ci": bootstrap_diff(ha, hb),
            }
        steps[f"{a} -> {b}"] = step
    per_case = {c: {label: runs[label][c] for label in labels} for c in common}
    if angles:
        for c in common:
            per_case[c]["native_cone_angle_deg"] = angles[c]
    return {
        "common_cases": common,
        "runs": table,
        "steps": steps,
        "per_case": per_case,
        "cone_deg": cone,
        "outside_cone": sorted(c for c in common if angles and not inside[c]),
    }


def markdown(result: dict, settings: dict, mode: str) -> str:
    labels = list(result["runs"])
    lines = [
        f"# Rotational sampling, {mode} docking (antibody benchmark; RANKL complexes where run)",
        "",
        f"{len(result['common_cases'])} cases finished by every run; counts are cases with an "
        "acceptable-or-better / medium-or-better pose in the top N (CAPRI, against the bound "
        "complex). Settings of each run (its results.json):",
        "",
    ]
    for label in labels:
        s = settings[label]
        ds = s["docking_settings"]
        lines.append(
            f"- **{label}**: grid {ds['spacing']} Å, "
            + (
                f"rotations at {ds['rotation_spacing_deg']}° spacing"
                if ds.get("rotation_spacing_deg")
                else f"{ds['n_rotations']} super-Fibonacci rotations"
            )
            + f", orientation cone {ds.get('orientation_cone_deg') or 'none'}"
            + f", restraint_weight {ds['restraint_weight']}, {ds['n_keep']} clusters kept "
            f"({ds['cluster_rmsd']} Å); median {result['runs'][label]['rotations_median']:.0f} "
            f"rotations searched; CPU {result['runs'][label]['cpu_s_total'] / 60:.1f} min "
            f"(median {result['runs'][label]['cpu_s_median']} s per case)"
        )
    lines += [
        "",
        "| class | cases | " + " | ".join(f"{lb} top 1/5/10 acc.+ (med.+)" for lb in labels) + " |",
        "|---|---|" + "---|" * len(labels),
    ]
    for g, row0 in result["runs"][labels[0]]["by_group"].items():
        cells = []
        for label in labels:
            r = result["runs"][label]["by_group"][g]
            cells.append(
                "/".join(str(r[f"top{t}_acceptable"]) for t in TOPS)
                + " ("
                + "/".join(str(r[f"top{t}_medium"]) for t in TOPS)
                + ")"
            )
        lines.append(f"| {g} | {row0['cases']} | " + " | ".join(cells) + " |")
    if result["cone_deg"]:
        outside = ", ".join(
            f"{c} {result['per_case'][c]['native_cone_angle_deg']}°" for c in result["outside_cone"]
        )
        lines += [
            "",
            f"Native orientation outside the {result['cone_deg']}° cone (angle to its axis, "
            f"unbound partners in the native frame): {outside}.",
        ]
    lines += [
        "",
        "Median best DockQ in the top 10: "
        + ", ".join(f"{lb} {result['runs'][lb]['median_best_dockq_top10']}" for lb in labels)
        + ".",
        "",
    ]
    for step, v in result["steps"].items():
        parts = []
        for t, x in v.items():
            lo, hi = x["rate_difference_95ci"]
            parts.append(
                f"{t} +{len(x['gained'])}/−{len(x['lost'])} (gained {', '.join(x['gained']) or '–'}; "
                f"lost {', '.join(x['lost']) or '–'}; sign test p = {x['sign_test_p_two_sided']}, "
                f"rate difference 95 % CI [{lo:+.2f}, {hi:+.2f}])"
            )
        lines.append(f"- {step}: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="LABEL=RUN_DIR, coarsest first")
    ap.add_argument("--mode", default="epitope_paratope")
    ap.add_argument("--dataset", type=Path, help="benchmark directory: native cone angles")
    ap.add_argument("--cone", type=float, default=60.0, help="cone (deg) for the split")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    runs, settings = {}, {}
    for item in args.runs:
        label, _, path = item.partition("=")
        runs[label], settings[label] = case_rows(Path(path), args.mode)
    out = args.out or Path(args.runs[-1].partition("=")[2])
    angles = None
    if args.dataset:
        import tempfile

        with tempfile.TemporaryDirectory() as work:
            angles = native_cone_angles(args.dataset, Path(work), args.mode)
    result = compare(runs, angles, args.cone if angles else None)
    write_json(out / "sampling.json", {"mode": args.mode, "settings": settings} | result)
    write_text(out / "SAMPLING.md", markdown(result, settings, args.mode))
    print((out / "SAMPLING.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
