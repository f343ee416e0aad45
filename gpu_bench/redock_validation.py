"""Re-docking of 3URF / 4GIQ / 3ME2 (receptor chain R onto the RANKL trimer from a random
start) in the unrestrained and epitope-restrained modes, with the earlier scoring
(shape + electrostatics) and the issue-16 scoring (+ desolvation + MJ pair potential,
PRODIGY-contact rescoring, consensus ranking). Writes one JSON per run under
gpu_bench/results/docking_redock/. CPU-sized settings are given on the command line and
recorded in the JSON.

Usage: python gpu_bench/redock_validation.py --entries 4GIQ 3URF --spacing-deg 20
       --grid 1.5 [--modes unrestrained restrained] [--scoring legacy issue16]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rankbind.fileio import write_json  # noqa: E402
from rankbind.modelling import docking as dk  # noqa: E402
from rankbind.modelling import pipelines as pl  # noqa: E402


def settings_for(scoring: str, args) -> dk.DockingSettings:
    common = dict(spacing=args.grid, rotation_spacing_deg=args.spacing_deg, batch=args.batch)
    if scoring == "legacy":
        return dk.DockingSettings(**common)
    return dk.recommended_settings(**common, rescore_top=args.rescore_top, pair_terms=2)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--entries", nargs="+", default=["4GIQ", "3URF"])
    p.add_argument("--modes", nargs="+", default=["restrained", "unrestrained"])
    p.add_argument("--scoring", nargs="+", default=["issue16", "legacy"])
    p.add_argument("--spacing-deg", type=float, default=20.0)
    p.add_argument("--grid", type=float, default=1.5)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--rescore-top", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "docking_redock"))
    args = p.parse_args()
    for entry in args.entries:
        for mode in args.modes:
            for scoring in args.scoring:
                settings = settings_for(scoring, args)
                t0 = time.perf_counter()
                case = pl.redock_case(entry, mode == "restrained", settings, seed=args.seed)
                res = case["_result"]
                data = {k: v for k, v in case.items() if not k.startswith("_")}
                data["poses"] = data["poses"][:20]
                data |= {
                    "mode": mode,
                    "scoring": scoring,
                    "settings": res.settings.__dict__,
                    "notes": res.notes,
                    "timings_s": res.seconds | {"total": round(time.perf_counter() - t0, 1)},
                    "load_average_1m": os.getloadavg()[0],
                    "machine": "2 CPU cores shared by 9 agents (no GPU)",
                    "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                name = f"{entry}_{mode}_{scoring}.json"
                write_json(Path(args.out) / name, data)
                print(name, "first acceptable rank:", data["first_acceptable_rank"],
                      "top:", [(q["rank"], q["capri"]) for q in data["poses"][:3]],
                      data["timings_s"], flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
