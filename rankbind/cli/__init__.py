"""The ``rankbind`` command line: one package, one module per subcommand, each providing
``configure(parser)`` and ``run(args) -> int``. No argparse outside this package."""

from __future__ import annotations

import argparse
import importlib
import sys

from rankbind.errors import RankbindError
from rankbind.interrupts import Interrupted

# subcommand -> (module, one-line help); every module is rankbind.cli.<name> with
# configure(parser) and run(args) -> int: flags -> settings (rankbind.settings) -> API -> output
COMMANDS: dict[str, tuple[str, str]] = {
    "prepare": ("rankbind.cli.prepare", "build an assembly and prepare it for OpenMM"),
    "simulate": ("rankbind.cli.simulate", "staged, restartable MD of a prepared system"),
    "umbrella": (
        "rankbind.cli.umbrella",
        "umbrella sampling of receptor unbinding: plan, window, analyse",
    ),
    "contacts": (
        "rankbind.cli.contacts",
        "interfaces, footprints, H-bonds/salt bridges, PRODIGY and competition map",
    ),
    "mmgbsa": (
        "rankbind.cli.mmgbsa",
        "MM/GBSA binding energies, decomposition and alanine scanning",
    ),
    "compete": ("rankbind.cli.compete", "competitive-binding equilibria of the RANKL axis"),
    "model": (
        "rankbind.cli.model",
        "threading, mutants, isoforms, Fab model and FFT docking (models, labelled as such)",
    ),
    "report": ("rankbind.cli.report", "Markdown + HTML report of a run directory"),
    "run": ("rankbind.cli.run", "run a protocol's tasks on this machine"),
    "submit": ("rankbind.cli.submit", "submit a protocol as SLURM job arrays"),
    "status": ("rankbind.cli.status", "done/running/failed/pending tasks of a run"),
    "task": ("rankbind.cli.task", "run one task of a run directory (SLURM arrays)"),
    "benchmark": (
        "rankbind.cli.benchmark",
        "accuracy on public benchmarks: docking, affinity, ddG (results JSON, summary, plots)",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rankbind", description=__doc__)
    from rankbind import __version__

    parser.add_argument("--version", action="version", version=f"rankbind {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(_module=module)
        importlib.import_module(module).configure(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except RankbindError as exc:
        print(f"rankbind {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rankbind {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # e.g. an unwritable --out reached past the API's own checks
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rankbind {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:  # SIGTERM/SIGINT/SIGUSR1 inside interruptible()
        print(f"rankbind {args.command}: interrupted ({exc}); rerun to resume", file=sys.stderr)
        return 143


if __name__ == "__main__":
    sys.exit(main())
