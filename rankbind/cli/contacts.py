"""``rankbind contacts``: interface, footprint, interface chemistry, PRODIGY and the
competition map of one or more RANKL complexes (rankbind.analysis.survey)."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="ENTRY_OR_PDB")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--kind", default="hexamer", help="assembly kind for catalogue entries")
    parser.add_argument(
        "--binder",
        help="binder selection, e.g. 'OPG/R' or 'FAB_HEAVY/H+FAB_LIGHT/L' "
        "(default: the molecule of chain R, '/R')",
    )
    parser.add_argument("--target", default="RANKL", help="target selection (default RANKL)")
    parser.add_argument("--cutoff", type=float, default=0.40, help="contact cutoff, nm")
    parser.add_argument("--traj", type=Path, help="trajectory for a single PDB input")
    parser.add_argument("--stride", type=int, default=1, help="frame stride for SASA/H-bonds")
    parser.add_argument("--chunk", type=int, default=100, help="frames per streamed chunk")
    parser.add_argument("--no-prodigy", action="store_true", help="skip the PRODIGY estimate")


def run(args) -> int:
    from rankbind.analysis.survey import survey

    result = survey(
        args.inputs,
        args.out,
        kind=args.kind,
        binder=args.binder,
        target=args.target,
        cutoff_nm=args.cutoff,
        trajectory=args.traj,
        stride=args.stride,
        chunk=args.chunk,
        prodigy_estimate=not args.no_prodigy,
    )
    for line in result["lines"]:
        print(line)
    return 0
