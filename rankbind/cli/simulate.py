"""``rankbind simulate``: staged, restartable MD of a prepared system."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from rankbind.interrupts import Interrupted, interruptible
from rankbind.platforms import select_platform
from rankbind.preparation import load_prepared
from rankbind.settings import (
    PLATFORMS,
    PRECISIONS,
    PlatformSettings,
    SimulationOptions,
    default_of,
)
from rankbind.simulation import StagedSimulation


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prepared", type=Path, help="directory written by `rankbind prepare`")
    parser.add_argument("--out", required=True, type=Path, help="run directory (re-run to resume)")
    d = functools.partial(default_of, SimulationOptions)
    parser.add_argument(
        "--platform",
        default=default_of(PlatformSettings, "name"),
        help=f"{', '.join(PLATFORMS)} (any case)",
    )
    parser.add_argument("--device-index", type=int, default=None, help="GPU index (CUDA/OpenCL)")
    parser.add_argument(
        "--precision", default=default_of(PlatformSettings, "precision"), choices=PRECISIONS
    )
    parser.add_argument("--temperature", type=float, default=d("temperature_K"), help="K")
    parser.add_argument(
        "--pressure", type=float, default=d("pressure_bar"), help="bar (explicit solvent NPT)"
    )
    parser.add_argument("--friction", type=float, default=d("friction_per_ps"), help="1/ps")
    parser.add_argument(
        "--timestep", type=float, default=d("timestep_fs"), help="fs (default 4 with HMR, else 2)"
    )
    parser.add_argument("--nvt", type=float, default=d("nvt_ps"), help="ps")
    parser.add_argument("--npt", type=float, default=d("npt_ps"), help="ps (periodic systems only)")
    parser.add_argument("--production", type=float, default=d("production_ps"), help="ps")
    parser.add_argument(
        "--restraint-k",
        type=float,
        default=d("restraint_k_kJ_mol_nm2"),
        help="kJ/mol/nm^2, backbone, equilibration",
    )
    parser.add_argument(
        "--report-interval",
        type=int,
        default=d("report_interval_steps"),
        help="steps per frame and log row",
    )
    parser.add_argument(
        "--checkpoint-interval", type=int, default=d("checkpoint_interval_steps"), help="steps"
    )
    parser.add_argument("--seed", type=int, default=d("seed"))
    parser.add_argument(
        "--extend",
        action="store_true",
        help="lengthen the production of an existing --out run to --production ps",
    )


def run(args: argparse.Namespace) -> int:
    platform = PlatformSettings(
        name=args.platform, precision=args.precision, device_index=args.device_index
    )
    options = SimulationOptions(
        temperature_K=args.temperature,
        pressure_bar=args.pressure,
        friction_per_ps=args.friction,
        timestep_fs=args.timestep,
        nvt_ps=args.nvt,
        npt_ps=args.npt,
        production_ps=args.production,
        restraint_k_kJ_mol_nm2=args.restraint_k,
        report_interval_steps=args.report_interval,
        checkpoint_interval_steps=args.checkpoint_interval,
        seed=args.seed,
    )
    prepared = load_prepared(args.prepared)
    choice = select_platform(platform.name, platform.device_index, platform.precision)
    simulation = StagedSimulation(prepared, args.out, options, choice, extend=args.extend)
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
