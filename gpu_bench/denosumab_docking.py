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

Usage: nice -n 15 python gpu_bench/denosumab_docking.py --seeds 0 1 2 3 4 5
       [--targets human mouse human_on_mouse] [--out DIR] [--aggregate-only]
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
RECEPTORS = {  # same-species receptor complexes (catalogue entries) per target species
    "human": {"OPG": "3URF", "RANK": "HUMAN_RANK_4GIQ"},
    "mouse": {"OPG": "MOUSE_OPG_3URF", "RANK": "4GIQ"},
}


def run_settings(args) -> dict:
    settings = dk.DockingSettings(spacing=args.grid, rotation_spacing_deg=args.spacing_deg,
                                  orientation_cone_deg=args.cone_deg, restraint_min_atoms=20)  # fmt: skip
    return {
        "label": "MODEL: docking of a homology-modelled Fv, not an experimental structure",
        "settings": settings.model_dump(mode="json"),
        "n_report": 5,
        "receptors_for_groove_exclusion": RECEPTORS,
        "exclusion_note": "Fv only (no constant domains): the grooves excluded are a lower bound",
    }


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


def summary_markdown(summary: dict) -> str:
    s = summary["settings"]
    lines = [
        "# Denosumab Fv on RANKL over rotation seeds (MODEL; computed)",
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
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--targets", nargs="+", default=["human", "mouse", "human_on_mouse"])
    p.add_argument("--grid", type=float, default=1.5)
    p.add_argument("--spacing-deg", type=float, default=20.0)
    p.add_argument("--cone-deg", type=float, default=60.0)
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(6)))
    p.add_argument("--out", default=str(COMMITTED))
    p.add_argument("--aggregate-only", action="store_true")
    args = p.parse_args()
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
            c0 = time.process_time()
            run = ad.denosumab_on_rankl(
                target, settings.replace(rotation_seed=seed),
                str(poses_dir) if seed == 0 and out == COMMITTED else None,
                n_report=wanted["n_report"], assess=assess[target], n_write=3,
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
        "machine": "2 CPU cores shared with other jobs (no GPU)",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(out / "summary.json", summary)
    write_text(out / "summary.md", summary_markdown(summary))
    if out == COMMITTED:
        from rankbind.analysis.report_sections import write_report_sections
        from rankbind.structures import structures_dir

        write_report_sections(structures_dir() / "models" / "species_complexes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
