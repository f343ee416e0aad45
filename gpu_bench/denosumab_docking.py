"""Denosumab Fv docked onto human (3URF) and mouse (4GIQ) RANKL trimers with the epitope
T233-Y241 + Kabat-CDR restraint (required), the orientation cone, and a scoring protocol:

* ``legacy``: shape + electrostatics (the FFT score), ranked by score;
* ``issue16``: + desolvation and MJ pair terms with the unfitted weights of
  :func:`rankbind.modelling.docking.recommended_settings`, PRODIGY-consensus ranking;
* ``fitted`` / ``fitted_legacy_restraint``: the weights of model "full" /
  "legacy_restraint" fitted on the epitope + paratope mode's development cases
  (gpu_bench/results/docking_scoring/cv.json, all cases), ranked by score.

Each species is docked once per ``--seeds`` value (``DockingSettings.rotation_seed``: the
rotation set offset by a random rotation), so every descriptor comes with its spread over
sampling. Writes the summary JSON (``--out``) and, for the first seed, PDB +
ensemble.json under structures/models/<--out file stem>/<species>/. CPU-sized settings are recorded.

Usage: python gpu_bench/denosumab_docking.py --protocol legacy --grid 1.5 --spacing-deg 20
       --seeds 0 1 [--species human mouse]
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

from rankbind.fileio import write_json  # noqa: E402
from rankbind.modelling import antibody_docking as ad  # noqa: E402
from rankbind.modelling import docking as dk  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTORS = ("fraction_epitope_buried", "overlap_opg_footprint", "overlap_rank_footprint")


def protocol_settings(args) -> dk.DockingSettings:
    common = dict(spacing=args.grid, rotation_spacing_deg=args.spacing_deg,
                  orientation_cone_deg=args.cone_deg, restraint_min_atoms=20)  # fmt: skip
    if args.protocol == "issue16":
        return dk.recommended_settings(**common, rescore_top=args.rescore_top)
    base = dk.DockingSettings(**common)
    if args.protocol == "legacy":
        return base
    from rankbind.benchmark.docking_scoring import MODELS, weights_to_settings

    cv = json.loads((ROOT / "gpu_bench/results/docking_scoring/cv.json").read_text())
    model = args.protocol.removeprefix("fitted_") if "_" in args.protocol else "full"
    w = cv["modes"]["epitope_paratope"]["weights_all_cases"][model]
    return weights_to_settings([w[t] for t in MODELS[model]], base, model)


def mean_sd(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {"mean": round(float(v.mean()), 3),
            "sd": round(float(v.std(ddof=1)), 3) if len(v) > 1 else None, "n": len(v)}  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--species", nargs="+", default=["human", "mouse"])
    p.add_argument(
        "--protocol",
        choices=["legacy", "issue16", "fitted", "fitted_legacy_restraint"],
        default="legacy",
    )
    p.add_argument("--grid", type=float, default=1.5)
    p.add_argument("--spacing-deg", type=float, default=20.0)
    p.add_argument("--cone-deg", type=float, default=60.0)
    p.add_argument("--rescore-top", type=int, default=300)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--out", default=str(ROOT / "gpu_bench/results/denosumab_docking_cv.json"))
    args = p.parse_args()
    settings = protocol_settings(args)
    runs: dict = {}
    for species in args.species:
        for k, seed in enumerate(args.seeds):
            out = ROOT / "structures/models" / Path(args.out).stem / species if k == 0 else None
            run = ad.denosumab_on_rankl(species, settings.replace(rotation_seed=seed),
                                        str(out) if out else None)  # fmt: skip
            runs.setdefault(species, []).append(run)
            print(species, seed, run["timings_s"], [(q["rank"], q["score"]) + tuple(
                q[d] for d in DESCRIPTORS) for q in run["poses"][:3]], flush=True)  # fmt: skip
    summary: dict = {
        "label": "MODEL: docking of a homology-modelled Fv, not an experimental structure",
        "protocol": args.protocol,
        "seeds": args.seeds,
        "settings": settings.model_dump(mode="json"),
        "species": {},
    }
    for species, seed_runs in runs.items():
        summary["species"][species] = {
            "rank1_over_seeds": {
                d: mean_sd([r["poses"][0][d] for r in seed_runs]) for d in DESCRIPTORS
            },
            "top5_clusters_over_seeds": {
                d: mean_sd([q[d] for r in seed_runs for q in r["poses"][:5]]) for d in DESCRIPTORS
            },  # fmt: skip
            "runs": [
                {kk: vv for kk, vv in r.items() if kk != "poses"}
                | {
                    "seed": s,
                    "top_poses": [
                        {kk: vv for kk, vv in q.items() if kk != "mj_rt_by_residue_human_numbering"}
                        for q in r["poses"][:5]
                    ],
                }
                for s, r in zip(args.seeds, seed_runs, strict=True)
            ],  # fmt: skip
        }
    if {"human", "mouse"} <= set(runs):
        per_seed = [ad.species_differences(h, m) for h, m in zip(runs["human"], runs["mouse"],
                                                                  strict=True)]  # fmt: skip
        residues = sorted({int(n) for d in per_seed for n in d})
        summary["mj_rt_human_minus_mouse_rank1_over_seeds"] = {
            str(n): mean_sd([d.get(str(n), 0.0) for d in per_seed]) for n in residues
        }
    summary |= {
        "load_average_1m": os.getloadavg()[0],
        "machine": "2 CPU cores shared by 5 agents (no GPU)",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(Path(args.out), summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
