"""``rankbind simulate``: staged, restartable MD of a prepared system."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rankbind.interrupts import Interrupted, interruptible
from rankbind.platforms import select_platform
from rankbind.preparation import load_prepared
from rankbind.simulation import SimulationOptions, StagedSimulation


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prepared", type=Path, help="directory written by `rankbind prepare`")
    parser.add_argument("--out", required=True, type=Path, help="run directory (re-run to resume)")
    parser.add_argument("--platform", default="auto", help="auto, CUDA, OpenCL, CPU or Reference")
    parser.add_argument("--device-index", type=int, default=None, help="GPU index (CUDA/OpenCL)")
    parser.add_argument("--precision", default="mixed", choices=["single", "mixed", "double"])
    parser.add_argument("--temperature", type=float, default=300.0, help="K")
    parser.add_argument("--pressure", type=float, default=1.0, help="bar (explicit solvent NPT)")
    parser.add_argument(
        "--timestep", type=float, default=None, help="fs (default 4 with HMR, else 2)"
    )
    parser.add_argument("--nvt", type=float, default=100.0, help="ps")
    parser.add_argument("--npt", type=float, default=100.0, help="ps (periodic systems only)")
    parser.add_argument("--production", type=float, default=1000.0, help="ps")
    parser.add_argument(
        "--restraint-k", type=float, default=1000.0, help="kJ/mol/nm^2, backbone, equilibration"
    )
    parser.add_argument(
        "--report-interval", type=int, default=1000, help="steps per frame and log row"
    )
    parser.add_argument("--checkpoint-interval", type=int, default=10000, help="steps")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--extend",
        action="store_true",
        help="lengthen the production of an existing --out run to --production ps",
    )


def run(args: argparse.Namespace) -> int:
    platform = select_platform(args.platform, args.device_index, args.precision)
    options = SimulationOptions(
        temperature_K=args.temperature,
        pressure_bar=args.pressure,
        timestep_fs=args.timestep,
        nvt_ps=args.nvt,
        npt_ps=args.npt,
        production_ps=args.production,
        restraint_k_kJ_mol_nm2=args.restraint_k,
        report_interval_steps=args.report_interval,
        checkpoint_interval_steps=args.checkpoint_interval,
        seed=args.seed,
    )
    options.validate()  # before the (slow) load: bad numbers are reported at once
    prepared = load_prepared(args.prepared)
    simulation = StagedSimulation(prepared, args.out, options, platform, extend=args.extend)
    try:
        with interruptible():
            results = simulation.run()
    except Interrupted as exc:
        print(
            f"rankbind simulate: interrupted ({exc}); the last checkpoint is kept: rerun the "
            "same command to resume",
            file=sys.stderr,
        )
        return 143
    for result in results:
        resumed = (
            f", resumed at step {result.resumed_from_step}" if result.resumed_from_step else ""
        )
        print(
            f"{result.stage:>10}: {result.steps} steps, {result.frames} frames, "
            f"{result.wall_s:.1f} s on {result.platform['platform']}{resumed}"
        )
    return 0
