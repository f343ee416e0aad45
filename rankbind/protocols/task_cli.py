"""``rankbind task RUN_DIR STAGE --index N``: run one task of a run directory
(idempotent; what each SLURM array task executes). ``--id`` names the task instead
(indices follow the sorted system names, the same in every run of the protocol). Exit
status 0 when the task is complete (now or before), 143 when interrupted by SIGTERM,
SIGINT or SIGUSR1 (it resumes when rerun)."""

from __future__ import annotations

import argparse
import os
import sys

from rankbind.errors import ProtocolError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="run directory written by `rankbind run` or `submit`")
    parser.add_argument("stage", help="stage name")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--index",
        type=int,
        default=None,
        help="task index in the stage (default: $SLURM_ARRAY_TASK_ID)",
    )
    which.add_argument(
        "--id", default=None, help="task id in the stage, e.g. rankl_rank-r2 (see `run --check`)"
    )


def run(args: argparse.Namespace) -> int:
    from rankbind.protocols.runner import TaskInterrupted, run_task

    index = args.index if getattr(args, "id", None) is None else args.id
    if index is None:
        raw = os.environ.get("SLURM_ARRAY_TASK_ID")
        if raw is None:
            raise ProtocolError("no --index or --id given and SLURM_ARRAY_TASK_ID is not set")
        try:
            index = int(raw)
        except ValueError:
            raise ProtocolError(f"SLURM_ARRAY_TASK_ID={raw[:40]!r} is not an integer") from None
    try:
        outcome = run_task(
            args.run_dir, args.stage, index, device=os.environ.get("RANKBIND_DEVICE")
        )
    except TaskInterrupted as exc:
        print(
            f"rankbind task: {args.stage}[{index}] interrupted ({exc}); rerun to resume",
            file=sys.stderr,
        )
        return 143
    print(f"rankbind task: {args.stage}[{index}] {outcome}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m rankbind.protocols.task_cli`` (used by sbatch scripts
    and the local process pool, so it works whether or not ``task`` is registered)."""
    from rankbind.errors import RankbindError

    parser = argparse.ArgumentParser(prog="rankbind task", description=__doc__)
    configure(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except RankbindError as exc:
        print(f"rankbind task: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
