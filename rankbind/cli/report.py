"""``rankbind report``: Markdown + HTML report of a run directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from rankbind.errors import RankbindError
from rankbind.report import build_report


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir", type=Path, help="a run directory (rankbind run) or any results folder"
    )
    parser.add_argument("-o", "--out", type=Path, help="output folder (default RUN_DIR/report)")
    parser.add_argument("--title", default="rankbind report")


def run(args: argparse.Namespace) -> int:
    if not args.run_dir.is_dir():
        raise RankbindError(f"{args.run_dir}: not a directory")
    path = build_report(args.run_dir, args.out or args.run_dir / "report", args.title)
    print(f"wrote {path} and {path.with_suffix('.html')}")
    return 0
