"""MM/GBSA rescoring of docked poses: every fixed-ε_in variant, variant chosen by nested
leave-one-case-out cross-validation (issue 16, item 2).

Poses and representatives: those of gpu_bench/docking_mmgbsa_rescoring.py (its per-case
JSONs under gpu_bench/results/docking_mmgbsa_rescoring/<mode>/cases/ give the top ``N``
cluster representatives of the default ranking and their CAPRI classes, checked there
against the bound complex). Here each representative is rebuilt the same way, checked to
be the same pose index, relaxed once (score_complex: DockingSettings defaults, native OBC2
relax) and scored with EVERY variant of rankbind.settings.FIXED_EPS_VARIANTS on that relaxed
structure (score_complex(..., variants=...): one OpenMM evaluation per GB model, exact ε_in
rescaling at κ = 0). The default variant's score is compared with the earlier run's.

Selection, fixed before any score was seen (``cv``): candidates = 12 variants x 2 rules
(MM/GBSA rank alone; consensus = mean of the default and MM/GBSA ranks, ties by default
rank). In each fold (one case held out) the candidate with the most top-1
acceptable-or-better cases among the other cases is chosen; ties: lower mean
first-acceptable rank (over the training cases with an acceptable representative), then
the default variant obc2_e1_nonp0, then the rule consensus, then the FIXED_EPS_VARIANTS
order. The chosen candidate ranks the held-out case. Out-of-fold top-1/5/10 is the
cross-validated figure; per-candidate counts on all cases are descriptive only.

Usage:
  python gpu_bench/docking_mmgbsa_variants.py run [--mode epitope_paratope] [--cases ...]
      [--max-cpu-min 45]
  python gpu_bench/docking_mmgbsa_variants.py summary [--mode epitope_paratope]
One JSON per case under gpu_bench/results/docking_mmgbsa_variants/<mode>/cases/ (kept when
finished; one of other settings stops the run); per-pose checkpoint within a case.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import docking_mmgbsa_rescoring as single  # noqa: E402
from docking_scoring import OUT as POSES  # noqa: E402
from docking_scoring import SUBSETS, all_cases  # noqa: E402

from rankbind.benchmark import docking_scoring as ds  # noqa: E402
from rankbind.fileio import write_json, write_text  # noqa: E402
from rankbind.modelling import docking as dk  # noqa: E402
from rankbind.modelling import docking_rescoring as rs  # noqa: E402
from rankbind.settings import FIXED_EPS_VARIANTS, DockingSettings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "gpu_bench/results/docking_mmgbsa_variants"
DEFAULT_VARIANT = DockingSettings().mmgbsa_variant
RULES = ("consensus", "mmgbsa")  # order = last tie-break
TOPS = (1, 5, 10)
log = single.log


def run_settings(data_meta: dict, previous: dict) -> dict:
    """Everything a case's result depends on (recorded; a change refuses resume)."""
    d = DockingSettings()
    return {
        "representatives_from": "gpu_bench/results/docking_mmgbsa_rescoring (settings key "
        f"{previous['settings_key']}), top {previous['settings']['n_top_clusters']} clusters",
        "variants": list(FIXED_EPS_VARIANTS),
        "variant_evaluation": "one relax per pose (native OBC2, DockingSettings defaults); per "
        "GB model one OpenMM evaluation at eps_in 1, kappa 0 (+ gamma*SASA), variants by exact "
        "eps_in rescaling",
        "docking_settings_mmgbsa": rs._checkpoint_key(d),
        "preparation": single.PREPARATION.model_dump(mode="json"),
        "pose_dataset_settings_key": data_meta["settings_key"],
    }


def run_case(name: str, mode: str, out: Path, cases: dict) -> dict:
    path = out / "cases" / f"{name}__{mode}.json"
    prev_path = single.OUT / mode / "cases" / f"{name}__{mode}.json"
    previous = json.loads(prev_path.read_text())
    data = ds.load_case(POSES / mode / "cases" / f"{name}__{mode}.npz")
    settings = run_settings(data["meta"], previous)
    key = single.settings_key(settings)
    if (done := single.finished_case(path, key)) is not None:
        return done
    cpu0, wall0 = time.process_time(), time.perf_counter()
    case = cases[name]
    frame = ds.pose_frame(case, data)
    s = frame.structures
    d = DockingSettings()
    legacy = ds.fitted_score(data, [1.0, d.restraint_weight], "legacy_restraint")
    order = np.argsort(-legacy, kind="stable")
    reps = ds.cluster_representatives(data, order, d.cluster_rmsd, len(previous["poses"]))
    if [int(i) for i in reps] != [p["pose_index"] for p in previous["poses"]]:
        raise SystemExit(f"{name}: representatives differ from {prev_path}")
    partners = single.prepared_partners(name, case, s)
    checkpoint = out / "cases" / f"{name}__{mode}.checkpoint.json"
    ck = single.pose_checkpoint(checkpoint, key)

    def score(topology, xyz, rec, lig):
        r, _ = rs.score_complex(topology, xyz, rec, lig, d, variants=FIXED_EPS_VARIANTS)
        return {"variants": r["variants"], "atoms_scored": r["atoms_scored"],
                "trimmed_residues": r["trimmed_residues"],
                "relax_heavy_atom_rmsd_nm": r["relax"]["heavy_atom_rmsd_nm"],
                "dG_kJ_per_mol_scoring_variant": r["dG_kJ_per_mol"]}  # fmt: skip

    poses = []
    for p in previous["poses"]:
        i = str(p["pose_index"])
        if i not in ck["poses"]:
            record = {"variants": None} | single.scored_pose(
                partners, frame, data, int(i), p["default_rank"], score
            )
            ck["poses"][i] = record
            write_json(checkpoint, ck)
            log(f"{name}: pose {p['default_rank']}/{len(previous['poses'])} CAPRI "
                f"{p['capri']}, CPU {record['cpu_s']} s")  # fmt: skip
        r = ck["poses"][i]
        old = p["mmgbsa"]["dG_kJ_per_mol"]
        new = None if r["variants"] is None else r["variants"][DEFAULT_VARIANT]["dG_kJ_per_mol"]
        poses.append({k: p[k] for k in ("default_rank", "pose_index", "capri", "dockq")} | {
            "dG_kJ_per_mol": None if r["variants"] is None else
            {v: e["dG_kJ_per_mol"] for v, e in r["variants"].items()},
            "components_kJ_per_mol": None if r["variants"] is None else
            {v: e["components_kJ_per_mol"] for v, e in r["variants"].items()},
            "previous_run_dG_kJ_per_mol": old,
            "default_variant_minus_previous_kJ_per_mol":
                None if old is None or new is None else round(new - old, 6),
        } | {k: r.get(k) for k in ("atoms_scored", "trimmed_residues",
                                   "relax_heavy_atom_rmsd_nm", "error", "cpu_s", "wall_s")})  # fmt: skip
    result = {
        "case": name,
        "mode": mode,
        "category": previous["category"],
        "structures": previous.get("structures"),
        "n_acceptable_in_representatives": previous["n_acceptable_in_representatives"],
        "poses": poses,
        "cpu_s": {
            "preparation": round(partners["cpu_s"], 1),
            "poses": round(sum(ck["poses"][str(p["pose_index"])]["cpu_s"] for p in poses), 1),
            "this_process": round(time.process_time() - cpu0, 1),
        },  # fmt: skip
    } | single.case_provenance(settings, key, wall0)
    write_json(path, result)
    checkpoint.unlink()
    log(f"{name}: done, CPU {result['cpu_s']}")
    return result


def run(args) -> None:
    out = OUT / args.mode
    stored = {p.name.split("__")[0] for p in (single.OUT / args.mode / "cases").glob("*.json")}
    names = args.cases or [n for n in SUBSETS[args.mode] if n in stored]
    log(f"{args.mode}: {len(names)} cases {names}; budget {args.max_cpu_min} CPU-min")
    cases = all_cases()
    single.run_within_budget(names, args.max_cpu_min, lambda n: run_case(n, args.mode, out, cases))


# ------------------------------------------------------------------------------ selection


def first_ranks(rows: list[dict]) -> dict[tuple[str, str], list[int | None]]:
    """{(variant, rule): first acceptable-or-better rank per case (None: none)}, plus
    ("-", "default") for the default ranking."""
    out: dict = {("-", "default"): []}
    for r in rows:
        capri = [p["capri"] for p in r["poses"]]
        out[("-", "default")].append(single.first_rank(capri, list(range(len(capri)))))
        for v in FIXED_EPS_VARIANTS:
            score = np.array([np.inf if p["dG_kJ_per_mol"] is None
                              or p["dG_kJ_per_mol"][v] is None else p["dG_kJ_per_mol"][v]
                              for p in r["poses"]])  # fmt: skip
            orders = {"mmgbsa": np.argsort(score, kind="stable"),
                      "consensus": dk.rerank(np.arange(len(score)), score, "consensus")}  # fmt: skip
            for rule in RULES:
                out.setdefault((v, rule), []).append(
                    single.first_rank(capri, [int(i) for i in orders[rule]])
                )
    return out


def _criterion(firsts: list[int | None], cand: tuple[str, str]) -> tuple:
    """Sort key, smaller is better: -top-1 count, mean first-acceptable rank (cases with
    one), default variant first, rule consensus first, FIXED_EPS_VARIANTS order."""
    top1 = sum(f == 1 for f in firsts)
    ranks = [f for f in firsts if f is not None]
    mean = float(np.mean(ranks)) if ranks else np.inf
    variant, rule = cand
    return (-top1, round(mean, 9), variant != DEFAULT_VARIANT, RULES.index(rule),
            FIXED_EPS_VARIANTS.index(variant))  # fmt: skip


def nested_cv(rows: list[dict]) -> dict:
    firsts = first_ranks(rows)
    cands = [c for c in firsts if c[1] != "default"]
    chosen, oof = [], []
    for k in range(len(rows)):
        train = {c: [f for j, f in enumerate(firsts[c]) if j != k] for c in cands}
        best = min(cands, key=lambda c: _criterion(train[c], c))
        chosen.append(best)
        oof.append(firsts[best][k])
    final = min(cands, key=lambda c: _criterion(firsts[c], c))
    return {"firsts": firsts, "chosen": chosen, "oof_first": oof, "final": final}


def tops(firsts: list[int | None]) -> dict[str, int]:
    return {f"top{n}": sum(f is not None and f <= n for f in firsts) for n in TOPS}


def paired(a: list, b: list, n: int) -> dict:
    """b against a (first ranks) at top n: gained, lost, exact sign test p."""
    sa = [f is not None and f <= n for f in a]
    sb = [f is not None and f <= n for f in b]
    g = sum(y and not x for x, y in zip(sa, sb, strict=True))
    lo = sum(x and not y for x, y in zip(sa, sb, strict=True))
    return {"gained": g, "lost": lo, "sign_test_p_two_sided": single.sign_test(g, lo)}


def summary(args) -> None:
    out = OUT / args.mode
    rows = [json.loads(p.read_text()) for p in sorted((out / "cases").glob("*__*.json"))
            if not p.name.endswith(".checkpoint.json")]  # fmt: skip
    order = {n: k for k, n in enumerate(SUBSETS[args.mode])}
    rows.sort(key=lambda r: order.get(r["case"], 99))
    if not rows:
        raise SystemExit(f"no finished case under {out}")
    if args.mode != "epitope_paratope":
        return describe(rows, out, args.mode)
    cv = nested_cv(rows)
    firsts = cv["firsts"]
    single_variant = firsts[(DEFAULT_VARIANT, "mmgbsa")]
    default = firsts[("-", "default")]
    counts: dict[str, int] = {}
    for v, rule in cv["chosen"]:
        counts[f"{v} / {rule}"] = counts.get(f"{v} / {rule}", 0) + 1
    comparisons = {
        ref: {f"top{n}": paired(f, cv["oof_first"], n) for n in TOPS}
        for ref, f in (("default_ranking", default),
                       (f"{DEFAULT_VARIANT}_mmgbsa_rank", single_variant))
    }  # fmt: skip
    descriptive = {f"{v} / {rule}": tops(f) | {
        "mean_first_acceptable_rank": round(float(np.mean([x for x in f if x is not None])), 2)}
        for (v, rule), f in firsts.items()}  # fmt: skip
    diffs = [abs(p["default_variant_minus_previous_kJ_per_mol"]) for r in rows
             for p in r["poses"] if p["default_variant_minus_previous_kJ_per_mol"] is not None]  # fmt: skip
    cpu_pose = [p["cpu_s"] for r in rows for p in r["poses"]]
    cpu_total = sum(r["cpu_s"]["preparation"] + r["cpu_s"]["poses"] for r in rows)
    n_failed = sum(p["dG_kJ_per_mol"] is None for r in rows for p in r["poses"])
    report = {
        "label": "MM/GBSA rescoring variant chosen by nested leave-one-case-out CV",
        "mode": args.mode,
        "cases": [r["case"] for r in rows],
        "out_of_fold": tops(cv["oof_first"]),
        "default_ranking": tops(default),
        "single_variant_mmgbsa_rank": tops(single_variant),
        "paired_out_of_fold_vs": comparisons,
        "chosen_per_fold": dict(
            zip(
                [r["case"] for r in rows],
                [f"{v} / {rule}" for v, rule in cv["chosen"]],
                strict=True,
            )
        ),  # fmt: skip
        "chosen_counts": counts,
        "choice_on_all_cases": " / ".join(cv["final"]),
        "per_candidate_all_cases_not_cross_validated": descriptive,
        "per_case_first_acceptable": {
            r["case"]: {
                "default": default[k],
                "single_variant": single_variant[k],
                "out_of_fold": cv["oof_first"][k],
            }
            for k, r in enumerate(rows)
        },  # fmt: skip
        "default_variant_vs_previous_run_max_abs_kJ_per_mol": max(diffs) if diffs else None,
        "cpu_s_per_pose": {
            "mean": round(float(np.mean(cpu_pose)), 1),
            "min": min(cpu_pose),
            "max": max(cpu_pose),
            "n": len(cpu_pose),
        },  # fmt: skip
        "cpu_s_total": round(cpu_total, 1),
        "n_poses_failed": n_failed,
        "load_average_1m_at_end_of_cases": [r["load_average_1m_at_end"] for r in rows],
        "settings": rows[0]["settings"],
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(out / "summary.json", report)

    def t(x):
        return "/".join(str(x[f"top{n}"]) for n in TOPS)

    st = report["settings"]
    lines = [
        f"# MM/GBSA rescoring variant by nested leave-one-case-out CV: {args.mode}", "",
        f"Script `gpu_bench/docking_mmgbsa_variants.py`; {report['date_utc']}; 2 CPU cores "
        "shared with the lead's test-suite runs, no GPU, nice 10.", "",
        "## Settings", "",
        f"- Representatives: {st['representatives_from']} (default ranking: legacy + "
        "restraint weight x restraint atoms, 6 Å ligand C-alpha clusters; CAPRI classes "
        "checked there against the bound complex); the same pose indices re-derived here.",
        f"- MM/GBSA: {st['docking_settings_mmgbsa']}; {st['variant_evaluation']}. Variants: "
        f"{', '.join(st['variants'])}.",
        f"- Candidates: {len(FIXED_EPS_VARIANTS)} variants x 2 rules (MM/GBSA rank; "
        "consensus: mean of default and MM/GBSA ranks, ties by default rank). Per fold (one case "
        "held out): most top-1 acceptable-or-better on the other cases; ties: lower mean "
        "first-acceptable rank, then the default variant, then consensus, then the "
        "variant list order. Fixed before any score was seen.", "",
        f"## Acceptable-or-better within the top 1/5/10 ({len(rows)} cases)", "",
        "| ranking | top 1/5/10 |", "|---|---|",
        f"| default ranking (no MM/GBSA) | {t(report['default_ranking'])} |",
        f"| {DEFAULT_VARIANT}, MM/GBSA rank (the earlier single-variant rule) | "
        f"{t(report['single_variant_mmgbsa_rank'])} |",
        f"| **nested CV: variant and rule chosen per fold, out-of-fold** | "
        f"**{t(report['out_of_fold'])}** |", "",
        "Top 10 is the same under every ranking (they re-order the same 10 "
        "representatives). Paired by case, out-of-fold against:", "",
    ]  # fmt: skip
    for ref, v in comparisons.items():
        lines.append(f"- {ref}: " + "; ".join(
            f"{k} +{x['gained']}/-{x['lost']}, exact sign test p = {x['sign_test_p_two_sided']}"
            for k, x in v.items()))  # fmt: skip
    lines += ["", "Chosen per fold (counts): " + ", ".join(
        f"{k} {n}" for k, n in sorted(counts.items(), key=lambda x: -x[1]))
        + f". On all {len(rows)} cases the rule would choose {report['choice_on_all_cases']}.",
        "", "## Per candidate on all cases (descriptive, NOT cross-validated: choosing the "
        "best row here would be tuning on the test cases)", "",
        "| variant / rule | top 1/5/10 | mean first acceptable rank |", "|---|---|---|"]  # fmt: skip
    for k, v in descriptive.items():
        lines.append(f"| {k} | {t(v)} | {v['mean_first_acceptable_rank']} |")
    lines += ["", "## Per case: first acceptable rank (— none)", "",
              "| case | default | " + DEFAULT_VARIANT + " MM/GBSA | out-of-fold | chosen |",
              "|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        c = report["per_case_first_acceptable"][r["case"]]
        cells = ["—" if c[k] is None else str(c[k]) for k in ("default", "single_variant",
                                                              "out_of_fold")]  # fmt: skip
        lines.append(f"| {r['case']} | {' | '.join(cells)} | "
                     f"{report['chosen_per_fold'][r['case']]} |")  # fmt: skip
    cp = report["cpu_s_per_pose"]
    lines += ["", f"Check: the default variant's score equals the earlier single-variant "
              f"run's to {report['default_variant_vs_previous_run_max_abs_kJ_per_mol']} "
              f"kJ/mol (max abs over poses). CPU: {cp['mean']} s per pose ({cp['min']}-"
              f"{cp['max']}, {cp['n']} poses: relax + {len(FIXED_EPS_VARIANTS)} variants), "
              f"{report['cpu_s_total']:.0f} CPU-s in all with preparation; {n_failed} poses "
              "failed. Load average at the end of each case: "
              f"{report['load_average_1m_at_end_of_cases']}."]  # fmt: skip
    write_text(out / "SUMMARY.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def describe(rows: list[dict], out: Path, mode: str) -> None:
    """Descriptive only (no selection): first acceptable rank of every candidate per case."""
    firsts = first_ranks(rows)
    cpu = sum(r["cpu_s"]["preparation"] + r["cpu_s"]["poses"] for r in rows)
    report = {
        "label": "MM/GBSA rescoring, every variant x rule, descriptive (not cross-validated)",
        "mode": mode,
        "cases": [r["case"] for r in rows],
        "first_acceptable_rank": {f"{v} / {rule}": f for (v, rule), f in firsts.items()},
        "cpu_s_total": round(cpu, 1),
        "load_average_1m_at_end_of_cases": [r["load_average_1m_at_end"] for r in rows],
        "settings": rows[0]["settings"],
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(out / "summary.json", report)
    names = [r["case"] for r in rows]
    previous = [json.loads(q.read_text()) for q in (single.OUT / mode / "cases").glob("*.json")]
    skipped = sorted(d["case"] for d in previous if d["case"] not in names)
    without = sorted(d["case"] for d in previous if d["n_acceptable_in_representatives"] == 0)
    lines = [f"# MM/GBSA rescoring, every variant x rule: {mode} (descriptive, NOT "
             "cross-validated)", "",
             f"Script `gpu_bench/docking_mmgbsa_variants.py`; {report['date_utc']}; 2 CPU "
             "cores shared, no GPU, nice 10. Settings: as in ../epitope_paratope/SUMMARY.md "
             f"({report['settings']['docking_settings_mmgbsa']}). Cases run: {names}; "
             f"{report['cpu_s_total']:.0f} CPU-s. Not run: {skipped}; cases without an "
             f"acceptable representative in the top 10 (single-variant run): {without}: no "
             "re-ranking of the 10 can make them succeed.", "",
             "First acceptable-or-better rank among the top 10 representatives (— none):", "",
             "| variant / rule | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]  # fmt: skip
    for k, f in report["first_acceptable_rank"].items():
        lines.append(f"| {k} | " + " | ".join("—" if x is None else str(x) for x in f) + " |")
    write_text(out / "SUMMARY.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--mode", default="epitope_paratope", choices=sorted(SUBSETS))
    r.add_argument("--cases", nargs="+")
    r.add_argument("--max-cpu-min", type=float, default=45.0)
    s = sub.add_parser("summary")
    s.add_argument("--mode", default="epitope_paratope", choices=sorted(SUBSETS))
    args = p.parse_args()
    {"run": run, "summary": summary}[args.cmd](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
