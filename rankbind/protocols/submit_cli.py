"""``rankbind submit PROTOCOL --scheduler slurm``: submit a protocol as SLURM job arrays,
one per stage, chained with afterok; resubmitting skips completed tasks."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("protocol", help="protocol YAML file")
    parser.add_argument(
        "-o", "--run-dir", default=None, help="run directory (default: runs/<protocol name>)"
    )
    parser.add_argument("--scheduler", choices=("slurm",), default="slurm")
    parser.add_argument("--partition", default=None)
    parser.add_argument("--account", default=None)
    parser.add_argument("--qos", default=None)
    parser.add_argument("--gres", default=None, help="GPU request for GPU stages, e.g. gpu:a100:1")
    parser.add_argument("--time", default=None, help="time limit for every task, e.g. 04:00:00")
    parser.add_argument(
        "--array-throttle",
        type=int,
        default=None,
        help="at most N array tasks of a stage at once (%%N)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="write the sbatch scripts and print the commands, submit nothing",
    )


def run(args: argparse.Namespace) -> int:
    import shlex

    from rankbind.protocols.protocol import load_protocol
    from rankbind.protocols.slurm import SlurmOptions, sbatch_command, submit_slurm

    protocol = load_protocol(args.protocol)
    run_dir = Path(args.run_dir or Path("runs") / protocol.name)
    options = SlurmOptions(
        partition=args.partition,
        account=args.account,
        qos=args.qos,
        gres=args.gres,
        time=args.time,
        array_throttle=args.array_throttle,
    )
    jobs = submit_slurm(protocol, run_dir, options, dry_run=args.dry_run)
    if not jobs:
        print(f"{run_dir}: every task is already complete; nothing submitted")
    for stage, job in jobs.items():
        print(f"{stage}: job {job}")
        if args.dry_run:
            command = sbatch_command(
                protocol,
                run_dir.resolve(),
                stage,
                _pending(run_dir, stage),
                [jobs[s] for s in protocol.stage(stage)["after"] if s in jobs],
                options,
            )
            print("  " + shlex.join(command))
    return 0


def _pending(run_dir: Path, stage: str) -> list[int]:
    from rankbind.protocols.runner import open_run, pending_tasks

    return [t.index for t in pending_tasks(open_run(run_dir), run_dir) if t.stage == stage]
