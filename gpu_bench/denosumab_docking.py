"""Denosumab Fv docked onto three RANKL trimers, repeated over rotation seeds, with
statistics over the seeds (MODEL: the Fv is a homology model and no denosumab-RANKL
structure exists).

Targets (:func:`rankbind.modelling.antibody_docking.target_trimer`): ``human`` (3URF
crystal), ``mouse`` (4GIQ crystal), ``human_on_mouse`` (human RANKL threaded on the 4GIQ
trimer: mouse backbone, human sequence). Restraint: epitope T233-Y241 on one protomer +
Kabat CDRs (required), 60° orientation cone. Score: the DockingSettings defaults (shape +
electrostatics + restraint_weight x restraint atoms; restraint_weight cross-validated in
gpu_bench/results/docking_scoring/cv.md). Each seed (``DockingSettings.rotation_seed``:
the rotation set offset by a random rotation) is one independent docking run.

Layout (resumable): ``<out>/run_settings.json`` (refuses to resume under other settings),
``<out>/<target>/seed_<k>.json`` per run (written atomically, skipped when present; seeds
run in the outer loop so an interrupted run stays balanced), then ``<out>/summary.json``
(:func:`rankbind.modelling.antibody_docking.aggregate_seeds`) and ``<out>/summary.md``.
Per top pose, the grooves from which the placed Fv excludes each receptor
(:func:`rankbind.analysis.receptor_comparison.denosumab_exclusion`; same-species receptor
complexes superposed: OPG 3URF / RANK model on 4GIQ for human targets, OPG model on 3URF
/ RANK 4GIQ for mouse). From the committed folder it also rewrites the report sections
in structures/models/species_complexes. Seed 0's top 3 poses are written as PDB under
structures/models/denosumab_docking_seeds/<target>/.

Ensemble (``--ensemble``; targets human and mouse, own folder
gpu_bench/results/denosumab_docking_ensemble): every RANKL conformer of the target's species
(:data:`rankbind.modelling.antibody_docking.RANKL_CONFORMERS`: human = 3URF + human RANKL
threaded on 4GIQ; mouse = 4GIQ + 3ME2) x every distinct Fv CDR-H3 variant
(:func:`~rankbind.modelling.antibody_docking.fv_conformers`) docked and merged
(:func:`rankbind.modelling.docking.dock_ensemble`); run_settings.json records the
conformers; seed 0's top 3 poses are written under ``<out>/<target>/poses_seed_00``; the
summary adds which conformers the rank-1 and top-5 poses come from and the comparison with
the single-conformer run (same seeds, :data:`COMMITTED`).

Usage: nice -n 15 python gpu_bench/denosumab_docking.py --seeds 0 1 2 3 4 5
       [--targets human mouse human_on_mouse] [--out DIR] [--aggregate-only] [--ensemble]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rankbind.fileio import write_json, write_text  # noqa: E402
from rankbind.modelling import antibody_docking as ad  # noqa: E402
from rankbind.modelling import docking as dk  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "gpu_bench/results/denosumab_docking_seeds"
ENSEMBLE = ROOT / "gpu_bench/results/denosumab_docking_ensemble"
HAND_WRITTEN = "<!-- hand-written reading below: kept when the summary is rewritten -->"
RECEPTORS = {  # same-species receptor complexes (catalogue entries) per target species
    "human": {"OPG": "3URF", "RANK": "HUMAN_RANK_4GIQ"},
    "mouse": {"OPG": "MOUSE_OPG_3URF", "RANK": "4GIQ"},
}


def run_settings(args) -> dict:
    settings = dk.DockingSettings(spacing=args.grid, rotation_spacing_deg=args.spacing_deg,
                                  orientation_cone_deg=args.cone_deg, restraint_min_atoms=20)  # fmt: skip
    out = {
        "label": "MODEL: docking of a homology-modelled Fv, not an experimental structure",
        "settings": settings.model_dump(mode="json"),
        "n_report": 5,
        "receptors_for_groove_exclusion": RECEPTORS,
        "exclusion_note": "Fv only (no constant domains): the grooves excluded are a lower bound",
    }
    if args.ensemble:
        fv = ad.fv_conformers()
        out["conformers"] = {
            "rankl": {t: list(ad.RANKL_CONFORMERS[t]) for t in args.targets},
            "fv": {k: str(p.relative_to(ROOT)) for k, p in fv.items()},
        }
    return out


def assessor(target: str):
    from rankbind.analysis.receptor_comparison import denosumab_exclusion
    from rankbind.structures import build_assembly

    species = "mouse" if target == "mouse" else "human"
    hexamers = {p: build_assembly(e, "hexamer") for p, e in RECEPTORS[species].items()}

    def assess(complex_assembly) -> dict:
        out = {}
        for partner, hexamer in hexamers.items():
            r = denosumab_exclusion(complex_assembly, hexamer, partner)
            out[f"grooves_excluded_{partner.lower()}"] = r["n_grooves_excluded"]
            out[f"superposition_rmsd_{partner.lower()}_angstrom"] = r["superposition"][
                "ca_rmsd_angstrom"
            ]
        return out

    return assess


def _pair(q: dict, target: str) -> str:
    return f"{q.get('receptor_conformer', target)} x {q.get('ligand_conformer', 'fv')}"


def conformer_counts(runs: dict[str, list[dict]]) -> dict:
    """Per target: how many seeds' rank-1 pose, and how many of all seeds' top-5 poses,
    come from each "receptor conformer x ligand conformer" pair."""
    out = {}
    for t, seed_runs in runs.items():
        rank1, top5 = {}, {}
        for r in seed_runs:
            rank1[_pair(r["poses"][0], t)] = rank1.get(_pair(r["poses"][0], t), 0) + 1
            for q in r["poses"][:5]:
                top5[_pair(q, t)] = top5.get(_pair(q, t), 0) + 1
        out[t] = {"rank1": rank1, "top5": top5, "n_seeds": len(seed_runs)}
    return out


def versus_single(runs: dict[str, list[dict]]) -> dict:
    """Rank-1 descriptors of the single-conformer run (:data:`COMMITTED`) and of this
    (ensemble) run on the seeds both have, ensemble minus single
    (:func:`ad.difference_statistics`, the two sets treated as independent), and the
    single run's human - mouse differences on those seeds."""
    single = {
        t: [json.loads(f.read_text()) for r in seed_runs
            if (f := COMMITTED / t / f"seed_{r['seed']:02d}.json").is_file()]
        for t, seed_runs in runs.items()
    }  # fmt: skip
    out: dict = {}
    for t, seed_runs in runs.items():
        if not single[t]:
            continue
        seeds = {r["seed"] for r in single[t]}
        ea = [r["poses"][0] for r in seed_runs if r["seed"] in seeds]
        sa = [r["poses"][0] for r in single[t]]
        out[t] = {
            "seeds_single": [r["seed"] for r in single[t]],
            "ensemble_rank1_same_seeds": {d: ad.seed_statistics([q[d] for q in ea])
                                          for d in ad.SEED_DESCRIPTORS if all(d in q for q in ea)},
            "single_rank1": {d: ad.seed_statistics([q[d] for q in sa])
                             for d in ad.SEED_DESCRIPTORS if all(d in q for q in sa)},
            "ensemble_minus_single_rank1": {
                d: ad.difference_statistics([q[d] for q in ea], [q[d] for q in sa])
                for d in ad.SEED_DESCRIPTORS if all(d in q for q in ea + sa)},
        }  # fmt: skip
    if {"human", "mouse"} <= set(out):
        pair = ad.aggregate_seeds(single, 6.0, pairs=(("human", "mouse"),))["differences"]
        out["single_human_minus_mouse_rank1"] = pair["human_minus_mouse"]["rank1"]
    return out


def summary_markdown(summary: dict) -> str:
    s = summary["settings"]
    title = "ensemble of conformers" if "conformers" in summary else "rotation seeds"
    lines = [
        f"# Denosumab Fv on RANKL over {title} (MODEL; computed)",
        "",
        f"Settings: grid {s['spacing']} Å, rotations {s['rotation_spacing_deg']}° "
        f"(+{s['orientation_cone_deg']}° cone), restraint_weight {s['restraint_weight']}, "
        f"elec_weight {s['elec_weight']}, required restraint ≥ {s['restraint_min_atoms']} atoms; "
        f"CPU {summary['cpu_s_docking']:.0f} s of docking in total. Mean ± s.e. over seeds "
        "[95 % bootstrap CI].",
        "",
        "| target | seeds | rank-1 score | T233-Y241 buried | overlap OPG | overlap RANK "
        "| grooves OPG | grooves RANK | seeds agreeing on rank-1 cluster |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def f(x):
        if x["se"] is None:
            return f"{x['mean']:.3g} (n = 1)"
        return f"{x['mean']:.3g} ± {x['se']:.2g} [{x['ci95'][0]:.3g}, {x['ci95'][1]:.3g}]"

    for t, b in summary["aggregate"]["targets"].items():
        r = b["rank1"]
        top = max(b["clusters"], key=lambda c: c["n_seeds_rank1"])
        lines.append(
            f"| {t} | {len(b['seeds'])} | {f(r['score'])} | {f(r['fraction_epitope_buried'])} "
            f"| {f(r['overlap_opg_footprint'])} | {f(r['overlap_rank_footprint'])} "
            f"| {f(r['grooves_excluded_opg'])} | {f(r['grooves_excluded_rank'])} "
            f"| {top['n_seeds_rank1']}/{len(b['seeds'])} |"
        )
    lines += ["", f"Differences of rank-1 descriptors ({summary['statistics']}):", ""]
    for pair, d in summary["aggregate"]["differences"].items():
        for k, v in d["rank1"].items():
            lines.append(f"- {pair} {k}: {v['difference']:+.3g} ± {v['se'] if v['se'] is not None else float('nan'):.2g} "
                         f"{'RESOLVED' if v['resolved'] else 'not resolved'}")  # fmt: skip
        res = [f"{n} ({v['difference']:+.2f} ± {v['se']:.2f} RT)"
               for n, v in d["mj_rt_rank1_by_residue"].items() if v["resolved"]]  # fmt: skip
        lines.append(
            f"- {pair} per-residue MJ (rank-1): {len(res)} of "
            f"{len(d['mj_rt_rank1_by_residue'])} residues resolved: {', '.join(res) or 'none'}"
        )
    if "conformers" in summary:
        lines += ensemble_markdown(summary, f)
    return "\n".join(lines) + "\n"


def ensemble_markdown(summary: dict, f) -> list[str]:
    """The conformer sections of an ensemble summary; ``f`` formats a seed statistic."""
    c = summary["conformers"]
    lines = ["", "## Conformers", ""]
    lines += [f"- {t} RANKL: {', '.join(v)} (superposed on the first)"
              for t, v in c["rankl"].items()]  # fmt: skip
    lines += [f"- Fv: {', '.join(f'{k} ({p})' for k, p in c['fv'].items())}", "",
              "Conformer pair (RANKL x Fv) of the rank-1 pose per seed, and of all seeds' "
              "top-5 poses:", ""]  # fmt: skip
    for t, v in summary["conformer_counts"].items():
        lines.append(f"- {t} ({v['n_seeds']} seeds): rank-1 {v['rank1']}; top-5 {v['top5']}")
    vs = summary["versus_single_conformer"]
    lines += ["", "## Against the single-conformer run (3URF or 4GIQ x default Fv; same "
              "settings, the seeds below; gpu_bench/results/denosumab_docking_seeds)", "",
              "| target | descriptor | single conformer | ensemble (same seeds) "
              "| ensemble − single |",
              "|---|---|---|---|---|"]  # fmt: skip
    for t in ("human", "mouse"):
        if t not in vs:
            continue
        for d, v in vs[t]["ensemble_minus_single_rank1"].items():
            lines.append(f"| {t} (seeds {vs[t]['seeds_single']}) | {d} "
                         f"| {f(vs[t]['single_rank1'][d])} "
                         f"| {f(vs[t]['ensemble_rank1_same_seeds'][d])} | {v['difference']:+.3g} ± "
                         f"{v['se'] if v['se'] is not None else float('nan'):.2g} "
                         f"{'RESOLVED' if v['resolved'] else 'not resolved'} |")  # fmt: skip
    if "single_human_minus_mouse_rank1" in vs:
        lines += ["", "Single-conformer human − mouse on the same seeds:", ""]
        for d, v in vs["single_human_minus_mouse_rank1"].items():
            lines.append(f"- {d}: {v['difference']:+.3g} ± "
                         f"{v['se'] if v['se'] is not None else float('nan'):.2g} "
                         f"{'RESOLVED' if v['resolved'] else 'not resolved'}")  # fmt: skip
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--targets", nargs="+", default=["human", "mouse", "human_on_mouse"])
    p.add_argument("--grid", type=float, default=1.5)
    p.add_argument("--spacing-deg", type=float, default=20.0)
    p.add_argument("--cone-deg", type=float, default=60.0)
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(6)))
    p.add_argument("--out", default=str(COMMITTED))
    p.add_argument("--aggregate-only", action="store_true")
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="dock every RANKL conformer x Fv CDR-H3 variant (human, mouse)",
    )
    args = p.parse_args()
    if args.ensemble:
        args.targets = [t for t in args.targets if t in ad.RANKL_CONFORMERS]
        if args.out == str(COMMITTED):
            args.out = str(ENSEMBLE)
    from rankbind.benchmark.runner import conflicts

    out = Path(args.out)
    wanted = run_settings(args)
    stored = out / "run_settings.json"
    # a settings field added since (at its default) is no conflict
    if stored.is_file() and conflicts(
        json.loads(stored.read_text()), json.loads(json.dumps(wanted))
    ):
        raise SystemExit(f"{stored}: written under other settings; refusing to resume "
                         "(use another --out)")  # fmt: skip
    write_json(stored, wanted)
    settings = dk.DockingSettings(**wanted["settings"])
    assess = {t: assessor(t) for t in args.targets} if not args.aggregate_only else {}
    for seed in [] if args.aggregate_only else args.seeds:
        for target in args.targets:
            path = out / target / f"seed_{seed:02d}.json"
            if path.is_file():
                continue
            poses_dir = ROOT / "structures/models/denosumab_docking_seeds" / target
            conformers = {}
            if args.ensemble:
                poses_dir = out / target / "poses_seed_00"
                conformers = {
                    "rankl_conformers": wanted["conformers"]["rankl"][target],
                    "fv_pdbs": {k: str(ROOT / p) for k, p in wanted["conformers"]["fv"].items()},
                }
            c0 = time.process_time()
            run = ad.denosumab_on_rankl(
                target, settings.replace(rotation_seed=seed),
                str(poses_dir) if seed == 0 and out in (COMMITTED, ENSEMBLE) else None,
                n_report=wanted["n_report"], assess=assess[target], n_write=3, **conformers,
            )  # fmt: skip
            run |= {
                "seed": seed,
                "poses": run["poses"][: wanted["n_report"]],
                "cpu_s": round(time.process_time() - c0, 1),
                "load_average_1m": round(os.getloadavg()[0], 2),
            }
            write_json(path, run)
            q = run["poses"][0]
            print(f"{target} seed {seed}: cpu {run['cpu_s']} s, wall {run['timings_s']}, "
                  f"rank-1 score {q['score']} epitope {q['fraction_epitope_buried']} "
                  f"grooves OPG/RANK {q['grooves_excluded_opg']}/{q['grooves_excluded_rank']}",
                  flush=True)  # fmt: skip
    runs = {
        t: [json.loads(f.read_text()) for f in sorted((out / t).glob("seed_*.json"))]
        for t in args.targets
        if (out / t).is_dir()
    }
    runs = {t: r for t, r in runs.items() if r}
    summary = {
        "label": wanted["label"] + "; statistics over rotation seeds (computed)",
        "settings": wanted["settings"],
        "exclusion_note": wanted["exclusion_note"],
        "receptors_for_groove_exclusion": RECEPTORS,
        "cpu_s_docking": round(sum(r["cpu_s"] for rs in runs.values() for r in rs), 1),
        "statistics": "mean over seeds, s.e. = sd(ddof=1)/sqrt(n), 95 % percentile bootstrap "
        f"({ad.N_BOOT} resamples); a difference is resolved when both targets have >= "
        f"{ad.MIN_SEEDS_FOR_CLAIM} seeds and |Δ| > t(0.975, min(n) - 1) x s.e.",
        "aggregate": ad.aggregate_seeds(runs, settings.cluster_rmsd),
        **(
            {
                "conformers": wanted["conformers"],
                "conformer_counts": conformer_counts(runs),
                "versus_single_conformer": versus_single(runs),
            }
            if args.ensemble
            else {}
        ),  # fmt: skip
        "machine": "2 CPU cores shared with other jobs (no GPU)",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(out / "summary.json", summary)
    old = (out / "summary.md").read_text() if (out / "summary.md").is_file() else ""
    kept = old[old.index(HAND_WRITTEN) :] if HAND_WRITTEN in old else ""  # reading kept
    write_text(out / "summary.md", summary_markdown(summary) + ("\n" + kept if kept else ""))
    if out == COMMITTED:
        from rankbind.analysis.report_sections import write_report_sections
        from rankbind.structures import structures_dir

        write_report_sections(structures_dir() / "models" / "species_complexes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
