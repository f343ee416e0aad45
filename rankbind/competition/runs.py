"""Run a competition configuration (``rankbind compete run``, the ``competition`` task):
solve the baseline and every scenario, write ``results.json`` (and PNG plots)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import numpy as np

from rankbind.competition import scenarios as sc
from rankbind.competition.config import load_config, parse_range
from rankbind.competition.model import CompetitionError, EquilibriumModel, describe_assumptions
from rankbind.errors import ProtocolError
from rankbind.fileio import write_json

BRIDGED_WARNING = 0.1  # bridged-trimer fraction above which truncation is flagged


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


def run_config(config: str | Path, out: str | Path, plots: bool = True) -> dict:
    """Solve configuration ``config`` into folder ``out``; returns the results path, the
    scenario count and warnings (bridged-trimer truncation)."""
    system, scenarios, raw = load_config(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = EquilibriumModel(system)
    base = model.solve()
    results = []
    for i, scenario in enumerate(scenarios):
        where = f"{config}.scenarios[{i}]"
        try:
            result = _run_scenario(model, system, scenario, where, out, plots)
        except CompetitionError as exc:
            raise ProtocolError(f"{where}: {exc}") from None
        results.append({"scenario": scenario, "result": _jsonable(result)})
    warnings = [
        f"{name}: {frac:.2f} of trimers are in bridged two-trimer complexes at baseline; "
        "larger clusters are not enumerated, so bridging is underestimated"
        for name, frac in zip(base.pool_names, base.bridged_trimer_fraction, strict=True)
        if frac > BRIDGED_WARNING
    ]
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
    return {"results": out / "results.json", "scenarios": len(results), "warnings": warnings}
