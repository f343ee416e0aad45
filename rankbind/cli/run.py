"""``rankbind run PROTOCOL``: run a protocol's task DAG on this machine, skipping
tasks already complete in the run directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rankbind.errors import RankbindError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("protocol", help="protocol YAML file")
    parser.add_argument(
        "-o", "--run-dir", default=None, help="run directory (default: runs/<protocol name>)"
    )
    parser.add_argument(
        "--devices",
        default=None,
        help="comma-separated GPU ids, e.g. 0,1: independent tasks run in "
        "parallel, one per device (round-robin)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=1,
        help="parallel task processes when --devices is not given",
    )
    parser.add_argument(
        "--check", action="store_true", help="only validate the protocol and print its tasks"
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="smoke run: every stage's tiny parameters (a few MD steps, one replica, two "
        "windows, few docking rotations); the run directory records what ran",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key before validation, e.g. physics.temperature=310K or "
        "stages.relax.params.length='10 ps' (VALUE is YAML; repeatable)",
    )


def overrides_from(items: list[str]) -> dict:
    """``a.b.c=VALUE`` items -> nested mapping (VALUE parsed as YAML)."""
    import yaml

    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RankbindError(
                f"--set {item!r}: expected KEY=VALUE, e.g. physics.temperature=310K"
            )
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(value)
    return out


def run(args: argparse.Namespace) -> int:
    from rankbind.protocols.dag import expand
    from rankbind.protocols.protocol import load_protocol
    from rankbind.protocols.runner import TaskInterrupted, run_local

    protocol = load_protocol(args.protocol, overrides_from(args.set), tiny=args.tiny)
    plan = expand(protocol)
    if args.check:
        for stage, tasks in plan.stages.items():
            print(
                f"{stage}: {len(tasks)} task(s) of {tasks[0].kind}: "
                + ", ".join(t.id for t in tasks)
            )
        return 0
    devices = [d.strip() for d in args.devices.split(",") if d.strip()] if args.devices else None
    if args.jobs < 1:
        raise RankbindError("--jobs must be at least 1")
    run_dir = Path(args.run_dir or Path("runs") / protocol.name)
    try:
        summary = run_local(protocol, run_dir, devices=devices, jobs=args.jobs)
    except TaskInterrupted as exc:
        print(f"{run_dir}: interrupted ({exc}); rerun to resume", file=sys.stderr)
        return 143
    print(
        f"{run_dir}: {len(summary.done)} done, {len(summary.skipped)} already complete, "
        f"{len(summary.failed)} failed, {len(summary.blocked)} blocked"
    )
    for key, message in summary.failed.items():
        print(f"  FAILED {key}: {message}")
    if summary.blocked:
        print(f"  blocked by failures: {', '.join(summary.blocked)}")
    return 0 if summary.ok else 1
