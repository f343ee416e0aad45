"""``rankbind compete``: competitive-binding equilibria of the RANKL axis.

rankbind compete example [-o config.yaml]   write an example configuration
rankbind compete run config.yaml -o outdir  solve; write results.json and PNGs
rankbind compete cited -o outdir            the seed scenarios on cited inputs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rankbind.competition.config import EXAMPLE
from rankbind.fileio import write_text


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="compete_command", required=True)
    example = sub.add_parser("example", help="write an example configuration (placeholders)")
    example.add_argument("-o", "--output", help="file to write (default: stdout)")
    run_ = sub.add_parser("run", help="solve the scenarios of a configuration")
    run_.add_argument("config", help="YAML configuration (schema rankbind.competition/1)")
    run_.add_argument("-o", "--out", required=True, help="output folder")
    run_.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    cited = sub.add_parser(
        "cited", help="the seed scenarios on cited inputs (seeds/competition_inputs.yaml)"
    )
    cited.add_argument("-o", "--out", required=True, help="output folder")
    cited.add_argument("--inputs", help="inputs file (default: seeds/competition_inputs.yaml)")
    cited.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def run(args: argparse.Namespace) -> int:
    from rankbind.competition.runs import run_config

    if args.compete_command == "example":
        if args.output:
            write_text(args.output, EXAMPLE)
        else:
            sys.stdout.write(EXAMPLE)
        return 0
    if args.compete_command == "cited":
        from rankbind.competition.cited import run_cited

        result = run_cited(args.inputs, out_dir=args.out, plots=not args.no_plots)
        for row in result["conclusions"]:
            print(f"{row['scenario']}: signalling {row['signalling_relative']:.3g} x baseline")
        print(f"wrote {Path(args.out) / 'cited_competition.json'}")
        return 0
    result = run_config(args.config, args.out, plots=not args.no_plots)
    for warning in result["warnings"]:
        print(f"rankbind compete: warning: {warning}", file=sys.stderr)
    print(f"wrote {result['results']} ({result['scenarios']} scenarios)")
    return 0
