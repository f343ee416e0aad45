"""``rankbind status RUN_DIR``: done / stale / corrupt / running / failed / pending tasks per stage."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="run directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every task")
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="check that outputs exist, not their sha256 (fast for large trajectories)",
    )


def run(args: argparse.Namespace) -> int:
    from rankbind.protocols.status import STATES, task_states

    tasks = task_states(args.run_dir, verify=not getattr(args, "no_verify", False))
    stages: dict[str, dict[str, int]] = {}
    for info in tasks.values():
        stages.setdefault(info["stage"], dict.fromkeys(STATES, 0))[info["state"]] += 1
    width = max(len(s) for s in stages)
    print(f"{'stage':<{width}}  " + "  ".join(f"{s:>7}" for s in STATES))
    for stage, counts in stages.items():
        print(f"{stage:<{width}}  " + "  ".join(f"{counts[s]:>7}" for s in STATES))
    for key, info in tasks.items():
        if args.verbose or info["state"] in ("failed", "stale", "corrupt"):
            print(f"  {info['state']:<8} {key}  {info['detail']}")
    return 1 if any(i["state"] == "failed" for i in tasks.values()) else 0
