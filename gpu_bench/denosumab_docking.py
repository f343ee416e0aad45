"""Denosumab Fv docked onto human (3URF) and mouse (4GIQ) RANKL trimers with the issue-16
protocol (epitope T233-Y241 + Kabat CDRs as a required restraint, 60° orientation cone,
desolvation + MJ pair terms, PRODIGY-contact consensus ranking). CPU-sized settings come
from the command line and are recorded. Writes
structures/models/denosumab_docking_issue16/<species>/ (PDB + ensemble.json) and
gpu_bench/results/denosumab_docking_issue16.json (summary, species differences).

Usage: python gpu_bench/denosumab_docking.py --grid 2.0 --spacing-deg 15 [--species human mouse]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rankbind.fileio import write_json  # noqa: E402
from rankbind.modelling import antibody_docking as ad  # noqa: E402
from rankbind.modelling import docking as dk  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--species", nargs="+", default=["human", "mouse"])
    p.add_argument("--grid", type=float, default=2.0)
    p.add_argument("--spacing-deg", type=float, default=15.0)
    p.add_argument("--cone-deg", type=float, default=60.0)
    p.add_argument("--rescore-top", type=int, default=300)
    args = p.parse_args()
    root = Path(__file__).resolve().parents[1]
    settings = dk.recommended_settings(
        spacing=args.grid,
        rotation_spacing_deg=args.spacing_deg,
        orientation_cone_deg=args.cone_deg,
        rescore_top=args.rescore_top,
        restraint_min_atoms=20,
    )
    runs = {}
    for species in args.species:
        out = root / "structures/models/denosumab_docking_issue16" / species
        runs[species] = ad.denosumab_on_rankl(species, settings, str(out))
        top = runs[species]["poses"][:5]
        print(species, runs[species]["timings_s"], [
            (q["rank"], q["fraction_epitope_buried"], q["overlap_opg_footprint"],
             q["overlap_rank_footprint"]) for q in top], flush=True)  # fmt: skip
    summary = {
        "label": "MODEL: docking of a homology-modelled Fv, not an experimental structure",
        "settings": settings.__dict__,
        "runs": {
            k: {kk: vv for kk, vv in v.items() if kk != "poses"}
            | {
                "top_poses": [
                    {kk: vv for kk, vv in q.items() if kk != "mj_rt_by_residue_human_numbering"}
                    for q in v["poses"][:5]
                ]
            }  # fmt: skip
            for k, v in runs.items()
        },
        "load_average_1m": os.getloadavg()[0],
        "machine": "2 CPU cores shared by 9 agents (no GPU)",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if {"human", "mouse"} <= set(runs):
        summary["mj_rt_human_minus_mouse_by_residue_rank1"] = ad.species_differences(
            runs["human"], runs["mouse"]
        )
    write_json(root / "gpu_bench/results/denosumab_docking_issue16.json", summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
