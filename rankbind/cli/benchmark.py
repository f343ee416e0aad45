"""``rankbind benchmark docking|affinity|ddg DATASET -o OUT``: measure rankbind's docking,
affinity and ΔΔG estimators on a public benchmark set (resumable; results.json, SUMMARY.md
and plots in OUT). DATASET: an antibody_benchmark directory (docking, affinity), an
ab_bind directory (ddg), or ``rankbind`` for rankbind's crystal complexes 3URF, 4GIQ, 3ME2."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    from rankbind.settings import GB_MODELS, MMGBSA_VARIANTS, DDGSettings, default_of
    from rankbind.settings import AffinitySettings as A
    from rankbind.settings import DockingBenchmarkSettings as D

    parser.add_argument("kind", choices=["docking", "affinity", "ddg"])
    parser.add_argument("dataset", help="benchmark directory, or 'rankbind'")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output directory")
    parser.add_argument("--include-rankbind", action="store_true",
                        help="add 3URF, 4GIQ, 3ME2 as bound cases (docking, affinity)")  # fmt: skip
    parser.add_argument("--case", action="append", help="only this case (repeatable)")
    parser.add_argument("--limit", type=int, help="run only the first N tasks")
    parser.add_argument("--collect", action="store_true",
                        help="only rebuild results/summary/plots from finished case files")  # fmt: skip
    parser.add_argument("--seed", type=int, default=default_of(D, "seed"))
    dock = parser.add_argument_group("docking (Å)")
    dock.add_argument("--modes", default=",".join(default_of(D, "modes")))
    dock.add_argument("--spacing", type=float, default=default_of(D, "spacing"),
                      help="grid spacing (default %(default)s)")  # fmt: skip
    dock.add_argument("--rotations", type=int, default=default_of(D, "n_rotations"),
                      help="rotation count (default %(default)s)")  # fmt: skip
    dock.add_argument("--keep", type=int, default=default_of(D, "n_keep"),
                      help="clustered poses kept (default %(default)s)")  # fmt: skip
    dock.add_argument("--bound", action="store_true", help="dock bound structures, not unbound")
    dock.add_argument("--dock-option", action="append", default=[], metavar="KEY=VALUE",
                      help="further DockingSettings field (repeatable; VALUE as JSON, else "
                      "text), e.g. orientation_cone_deg=90")  # fmt: skip
    est = parser.add_argument_group(
        "affinity / ddg (defaults: the calibrated protocol of rankbind.settings)"
    )
    est.add_argument("--estimators", default=",".join(default_of(A, "estimators")),
                     help="affinity estimators (comma list)")  # fmt: skip
    est.add_argument("--prodigy-command", default=default_of(A, "prodigy_command"),
                     help="prodigy-prot executable")  # fmt: skip
    est.add_argument("--variant", choices=list(MMGBSA_VARIANTS), default=None,
                     help="MM/GBSA variant of the headline (default: the one fixed by "
                     "cross-validation, affinity obc2_e1_nonp0, ddg gbn2_e4_nonp0)")  # fmt: skip
    est.add_argument("--gb", choices=list(GB_MODELS), default=default_of(A, "mmgbsa_gb_model"))
    est.add_argument("--salt", type=float, default=default_of(A, "mmgbsa_salt_molar"),
                     help="mol/L (default %(default)s)")  # fmt: skip
    est.add_argument("--mmgbsa-engine", choices=["jax", "openmm"],
                     default=default_of(A, "mmgbsa_engine"))  # fmt: skip
    est.add_argument("--mmgbsa-platform", default=default_of(A, "mmgbsa_platform"),
                     help="OpenMM platform (openmm engine; default %(default)s)")  # fmt: skip
    est.add_argument("--singles-only", action="store_true", help="ddg: single mutations only")
    est.add_argument("--no-homology-models", action="store_true", help="ddg: skip HM_ files")
    est.add_argument("--bootstrap", type=int, default=default_of(A, "n_bootstrap"),
                     help="bootstrap samples")  # fmt: skip
    est.add_argument("--trim", type=float, default=default_of(A, "mmgbsa_trim_nm"),
                     help="MM/GBSA interface trim, nm (0 = whole complex; default %(default)s)")  # fmt: skip
    est.add_argument("--relax-iterations", type=int,
                     default=default_of(A, "mmgbsa_relax_iterations"),
                     help="restrained L-BFGS iterations in the (trimmed) MM/GBSA System, "
                     "wild type and each mutant (0 = off; default %(default)s)")  # fmt: skip
    est.add_argument("--relax-restraint-k", type=float,
                     default=default_of(A, "mmgbsa_relax_restraint_k"),
                     help="heavy-atom restraint of the relax, kJ/mol/nm^2")  # fmt: skip
    est.add_argument("--extra-gb", default=None,
                     help="more GB models whose eps_in=1 components are stored (comma list; "
                     "'' for none; default: affinity OBC2, ddg none)")  # fmt: skip
    est.add_argument("--protonation", choices=["template", "propka"],
                     default=default_of(A, "protonation"))  # fmt: skip
    est.add_argument(
        "--all-substitutions",
        action="store_true",
        help="ddg: also non-alanine substitutions (side chains rebuilt)",
    )
    est.add_argument(
        "--mutant-start",
        choices=["prepared", "relaxed_wild_type"],
        default=default_of(DDGSettings, "mutant_start"),
        help="ddg: structure a mutant is built from (DDGSettings.mutant_start)",
    )


def dock_options(items: list[str]) -> dict:
    """``KEY=VALUE`` strings as a dict (VALUE parsed as JSON where it is JSON)."""
    import json

    from rankbind.errors import SettingsError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SettingsError(f"--dock-option: expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def settings_from_args(args):
    from rankbind.benchmark import affinity, ddg, docking

    if args.kind == "docking":
        return docking.DockingBenchmarkSettings(
            modes=tuple(m for m in args.modes.split(",") if m),
            unbound=not args.bound,
            spacing=args.spacing,
            n_rotations=args.rotations,
            n_keep=args.keep,
            seed=args.seed,
            extra=dock_options(args.dock_option),
        )
    common = dict(
        mmgbsa_gb_model=args.gb,
        mmgbsa_salt_molar=args.salt,
        mmgbsa_engine=args.mmgbsa_engine,
        mmgbsa_platform=args.mmgbsa_platform,
        mmgbsa_trim_nm=args.trim,
        mmgbsa_relax_iterations=args.relax_iterations,
        mmgbsa_relax_restraint_k=args.relax_restraint_k,
        protonation=args.protonation,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
    )
    if args.extra_gb is not None:
        common["mmgbsa_extra_gb_models"] = tuple(g for g in args.extra_gb.split(",") if g)
    if args.variant is not None:
        common["variant"] = args.variant
    if args.kind == "affinity":
        return affinity.AffinitySettings(
            estimators=tuple(e for e in args.estimators.split(",") if e),
            prodigy_command=args.prodigy_command,
            **common,
        )
    return ddg.DDGSettings(
        alanine_only=not args.all_substitutions,
        singles_only=args.singles_only,
        include_homology_models=not args.no_homology_models,
        mutant_start=args.mutant_start,
        **common,
    )


def run(args) -> int:
    from rankbind.benchmark import suite

    settings = settings_from_args(args)
    if args.collect:
        data = suite.collect(args.kind, args.dataset, args.output, settings, args.include_rankbind)
    else:
        data = suite.run_benchmark(
            args.kind,
            args.dataset,
            args.output,
            settings,
            include_rankbind=args.include_rankbind,
            only=args.case,
            limit=args.limit,
        )
    print(f"{data['n_ok']}/{data['n_cases']} tasks ok; summary: {args.output / 'SUMMARY.md'}")
    return 0 if data["n_ok"] == data["n_cases"] else 1
