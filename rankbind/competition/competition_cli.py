"""``rankbind compete``: competitive-binding equilibria of the RANKL axis.

rankbind compete example [-o config.yaml]   write an example configuration
rankbind compete run config.yaml -o outdir  solve; write results.json and PNGs
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np

from rankbind.competition import scenarios as sc
from rankbind.competition.config import EXAMPLE, load_config, parse_range
from rankbind.competition.model import CompetitionError, EquilibriumModel, describe_assumptions
from rankbind.errors import ProtocolError
from rankbind.fileio import write_json, write_text

BRIDGED_WARNING = 0.1  # bridged-trimer fraction above which truncation is flagged


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


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None  # JSON has no NaN: an absent pool's fractions, an unreachable IC50
    return value


def _environment() -> dict:
    import jax

    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
    }


def _run_scenario(model, system, scenario, where, out: Path, plots: bool) -> dict:
    kind = scenario["kind"]

    def rng(key):
        if key not in scenario:
            raise ProtocolError(f"{where}: missing field {key!r}")
        return parse_range(f"{where}.{key}", scenario[key])

    if kind == "dose_response":
        component = scenario.get("component")
        result = sc.dose_response(model, system, component, rng("doses_molar"))
        if plots:
            from rankbind.competition.plots import plot_occupancy_curves

            curves = {
                f"{p} {label}": result[key][:, i]
                for i, p in enumerate(p.name for p in system.pools)
                for key, label in (
                    ("receptor_sites", "sites+RANK"),
                    ("signalling", ">=2 RANK"),
                    ("receptor_engaged", "RANK engaged"),
                )
            }
            plot_occupancy_curves(
                out / f"dose_response_{component}.png",
                result["dose_molar"],
                curves,
                f"{component} total (M)",
                title=f"{component} dose-response",
            )
        return result
    if kind == "ratio_sweep":
        result = sc.rankl_opg_ratio_sweep(
            model,
            system,
            rng("rankl_trimer_molar"),
            rng("opg_molar"),
            scenario.get("pool", "RANKL"),
        )
        if plots:
            from rankbind.competition.plots import plot_surface

            plot_surface(
                out / "ratio_sweep_rank_engaged.png",
                result["rankl_trimer_molar"],
                result["opg_molar"],
                result["receptor_engaged"],
                "RANKL trimer total (M)",
                "OPG total (M)",
                "fraction of RANK bound to RANKL",
                "RANKL/OPG sweep: RANK engagement",
            )
        return result
    if kind == "imbalance_path":
        result = sc.rankl_opg_imbalance_path(
            model, system, rng("fold_change"), scenario.get("pool", "RANKL")
        )
        if plots:
            from rankbind.competition.plots import plot_occupancy_curves

            plot_occupancy_curves(
                out / "imbalance_path.png",
                result["rankl_opg_ratio"],
                {
                    "RANK engaged": result["receptor_engaged"],
                    "trimers with >=2 RANK": result["signalling"],
                },
                "RANKL trimer / OPG molar ratio (RANKL x f, OPG / f)",
                title="RANKL up, OPG down",
            )
        return result
    if kind == "decoy_comparison":
        decoys = tuple(scenario.get("decoys", ("OPG", "Dmab", "RANKc")))
        result = sc.decoy_comparison(
            model, system, rng("doses_molar"), decoys, scenario.get("output", "signalling")
        )
        if plots:
            from rankbind.competition.plots import plot_occupancy_curves

            plot_occupancy_curves(
                out / "decoy_comparison.png",
                next(iter(result.values()))["dose_molar"],
                {d: r["signalling"][:, 0] for d, r in result.items()},
                "decoy total (M, molecules)",
                "RANKL trimers with >=2 RANK",
                "decoys at equal molar doses",
                {d: r["ic50_molar"] for d, r in result.items()},
            )
        return result
    if kind == "rankl3":
        result = sc.rankl3_coexpression(model, system, rng("rankl3_trimer_molar"))
        if plots:
            from rankbind.competition.plots import plot_occupancy_curves

            plot_occupancy_curves(
                out / "rankl3_coexpression.png",
                result["dose_molar"],
                {
                    f"RANK engaged by {p}": result["receptor_engaged"][:, i]
                    for i, p in enumerate(result["pool_names"])
                },
                "RANKL3 trimer total (M)",
                title="soluble RANKL3 co-expression",
            )
        return result
    if kind == "sensitivities":
        output, pool = scenario.get("output", "signalling"), int(scenario.get("pool", 0))
        return {
            "output": output,
            "pool": system.pools[pool].name,
            "gradients": model.sensitivities(system, output=output, pool=pool),
            "sigma_from_kd_uncertainty": model.propagated_uncertainty(system, output, pool),
        }
    raise ProtocolError(f"{where}.kind: unknown scenario {kind!r}")


def run(args: argparse.Namespace) -> int:
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
    system, scenarios, raw = load_config(args.config)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = EquilibriumModel(system)
    base = model.solve()
    results = []
    for i, scenario in enumerate(scenarios):
        where = f"{args.config}.scenarios[{i}]"
        try:
            result = _run_scenario(model, system, scenario, where, out, not args.no_plots)
        except CompetitionError as exc:
            raise ProtocolError(f"{where}: {exc}") from None
        results.append({"scenario": scenario, "result": _jsonable(result)})
    warnings = [
        f"{name}: {frac:.2f} of trimers are in bridged two-trimer complexes at baseline; "
        "larger clusters are not enumerated, so bridging is underestimated"
        for name, frac in zip(base.pool_names, base.bridged_trimer_fraction, strict=True)
        if frac > BRIDGED_WARNING
    ]
    for w in warnings:
        print(f"rankbind compete: warning: {w}", file=sys.stderr)
    write_json(
        out / "results.json",
        {
            "warnings": warnings,
            "config": raw,
            "assumptions": describe_assumptions(system),
            "species": len(model.network.labels),
            "baseline": {
                "pools": list(base.pool_names),
                "pool_totals_molar": [p.total_trimer_molar for p in system.pools],
                "receptor_site_fraction": _jsonable(base.receptor_site_fraction),
                "signalling_fraction": _jsonable(base.signalling_fraction),
                "receptor_engaged_fraction": _jsonable(base.receptor_engaged_fraction),
                "signalling_molar": _jsonable(base.signalling_molar),
                "receptor_bound_fraction": base.receptor_bound_fraction,
                "free_molar": base.free_molar,
                "max_relative_residual": base.max_relative_residual,
                "bridged_trimer_fraction": base.bridged_trimer_fraction.tolist(),
            },
            "scenarios": results,
            "environment": _environment(),
        },
    )
    print(f"wrote {out / 'results.json'} ({len(results)} scenarios)")
    return 0
