"""Biological scenarios on the RANKL / RANK / OPG / denosumab / RANK-c / RANKL3 axis.

No default Kd, concentration, molecular weight or volume exists here: the seeds
(``seeds/``) state none, so every number is a required argument carrying its source.
Doses are concentrations of molecules (an IgG, an OPG dimer and a RANK-c monomer
each count once), not of binding sites.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rankbind.competition.model import (
    Affinity,
    Binder,
    CompetitionError,
    EquilibriumModel,
    LigandPool,
    System,
    ic50,
)


@dataclass(frozen=True)
class BivalentOptions:
    """How a bivalent binder's second arm behaves (see rankbind.competition.network)."""

    c_eff_intra_molar: float | None = None
    c_eff_source: str = ""
    bridging: bool = True


def rankl_system(
    rankl_trimer_molar: float,
    rank_molar: float,
    kd_rank: Affinity,
    *,
    opg_molar: float = 0.0,
    kd_opg: Affinity | None = None,
    opg_dimer: BivalentOptions | None = None,
    dmab_molar: float = 0.0,
    kd_dmab: Affinity | None = None,
    dmab_igg: BivalentOptions | None = None,
    rank_c_molar: float = 0.0,
    kd_rank_c: Affinity | None = None,
    rankl3_trimer_molar: float | None = None,
) -> System:
    """The RANKL axis as a :class:`System`. A binder is included when its Kd is given
    (its total may be 0, e.g. the start of a dose-response). ``opg_dimer`` /
    ``dmab_igg`` make OPG / denosumab bivalent (None: monovalent OPG monomer /
    denosumab Fab). ``rankl3_trimer_molar`` adds a soluble RANKL3 trimer pool (same
    site affinities as membrane RANKL: an assumption)."""
    pools = [LigandPool("RANKL", rankl_trimer_molar)]
    if rankl3_trimer_molar is not None:
        pools.append(LigandPool("RANKL3", rankl3_trimer_molar))
    binders = [Binder("RANK", rank_molar, kd_rank)]
    for name, total, kd, bivalent in (
        ("OPG", opg_molar, kd_opg, opg_dimer),
        ("Dmab", dmab_molar, kd_dmab, dmab_igg),
        ("RANKc", rank_c_molar, kd_rank_c, None),
    ):
        if kd is None:
            if total > 0:
                raise CompetitionError(f"{name} total {total} M given without its Kd")
            continue
        if bivalent is None:
            binders.append(Binder(name, total, kd))
        else:
            binders.append(
                Binder(
                    name,
                    total,
                    kd,
                    valency=2,
                    c_eff_intra_molar=bivalent.c_eff_intra_molar,
                    c_eff_source=bivalent.c_eff_source,
                    bridging=bivalent.bridging,
                )
            )
    return System(tuple(pools), tuple(binders))


def _grid(model: EquilibriumModel, system: System, axes: dict[str, np.ndarray]):
    """Outputs over the outer product of ``axes`` (component name -> totals (M)).
    Returns {output name (model.OUTPUTS): array of shape (*axis lengths, P)}."""
    names = system.component_names
    for name in axes:
        if name not in names:
            raise CompetitionError(f"no pool or binder named {name!r} (have {names})")
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    shape = mesh[0].shape
    totals = np.tile(system.totals_molar(), (mesh[0].size, 1))
    for name, values in zip(axes, mesh, strict=True):
        totals[:, names.index(name)] = values.ravel()
    return {k: v.reshape(*shape, -1) for k, v in model.scan(totals, system).items()}


def dose_response(model: EquilibriumModel, system: System, component: str, doses_molar):
    """{"dose_molar": (N,)} and every output of model.OUTPUTS as (N, P)."""
    doses = np.asarray(doses_molar, dtype=float)
    return {"dose_molar": doses} | _grid(model, system, {component: doses})


def dose_response_surface(
    model: EquilibriumModel, system: System, x_component: str, x_molar, y_component: str, y_molar
):
    """Outputs over the grid x_molar (N,) x y_molar (M,) of two components' totals:
    {"x_molar", "y_molar"} and every output of model.OUTPUTS as (N, M, P)."""
    x = np.asarray(x_molar, dtype=float)
    y = np.asarray(y_molar, dtype=float)
    return {"x_molar": x, "y_molar": y} | _grid(model, system, {x_component: x, y_component: y})


def rankl_opg_ratio_sweep(
    model: EquilibriumModel, system: System, rankl_trimer_molar, opg_molar, pool: str = "RANKL"
):
    """The myeloma case (seeds/myeloma_rankl_opg.yaml: RANKL up, OPG down; no magnitudes
    stated, so the ranges are user inputs). Surfaces of shape (n_rankl, n_opg) for
    ``pool`` of every output in model.OUTPUTS (e.g. "receptor_engaged": fraction of
    RANK bound to the pool), and the RANKL/OPG molar ratio (trimers per OPG molecule)."""
    rankl = np.asarray(rankl_trimer_molar, dtype=float)
    opg = np.asarray(opg_molar, dtype=float)
    p = [q.name for q in system.pools].index(pool)
    grid = _grid(model, system, {pool: rankl, "OPG": opg})
    with np.errstate(divide="ignore"):
        ratio = rankl[:, None] / opg[None, :]
    return {"rankl_trimer_molar": rankl, "opg_molar": opg, "rankl_opg_ratio": ratio} | {
        k: v[..., p] for k, v in grid.items()
    }


def rankl_opg_imbalance_path(
    model: EquilibriumModel, system: System, fold_change, pool: str = "RANKL"
):
    """The myeloma direction as one path: RANKL total x f and OPG total / f for each
    fold change f (N,) (f = 1 is ``system``; seeds give the direction, not the size).
    Returns {"fold_change", "rankl_opg_ratio"} and every output as (N,) for ``pool``."""
    f = np.asarray(fold_change, dtype=float)
    if np.any(f <= 0):
        raise CompetitionError("fold changes must be > 0")
    names = system.component_names
    if "OPG" not in names or pool not in names:
        raise CompetitionError(f"system needs OPG and pool {pool!r} (have {names})")
    base = system.totals_molar()
    totals = np.tile(base, (f.size, 1))
    totals[:, names.index(pool)] *= f
    totals[:, names.index("OPG")] /= f
    p = [q.name for q in system.pools].index(pool)
    outputs = model.scan(totals, system)
    with np.errstate(divide="ignore"):
        ratio = totals[:, names.index(pool)] / totals[:, names.index("OPG")]
    return {"fold_change": f, "rankl_opg_ratio": ratio} | {k: v[:, p] for k, v in outputs.items()}


def decoy_comparison(
    model: EquilibriumModel,
    system: System,
    doses_molar,
    decoys: tuple[str, ...] = ("OPG", "Dmab", "RANKc"),
    output: str = "signalling",
):
    """Each decoy alone at equal molar doses (the others set to 0). Returns
    {decoy: dose_response(...) | {"ic50_molar": float or None}}; the IC50 is None
    when half-inhibition is not reached below 1 mM."""
    names = system.component_names
    missing = [d for d in decoys if d not in names]
    if missing:
        raise CompetitionError(f"decoys {missing} are not in the system (have {names})")
    zeroed = system
    for d in decoys:
        zeroed = zeroed.with_total(d, 0.0)
    out = {}
    for d in decoys:
        result = dose_response(model, zeroed, d, doses_molar)
        try:
            result["ic50_molar"] = ic50(model, d, zeroed, output=output)
        except CompetitionError:
            result["ic50_molar"] = None
        out[d] = result
    return out


def rankl3_coexpression(model: EquilibriumModel, system: System, rankl3_trimer_molar):
    """Sweep the soluble RANKL3 trimer pool. RANKL3 is a separate soluble trimer pool
    that takes binders (RANK, OPG, denosumab, RANK-c) from membrane RANKL; mixed
    RANKL1/RANKL3 trimers are not modelled. Outputs per pool, shape (N, P)."""
    if "RANKL3" not in [p.name for p in system.pools]:
        raise CompetitionError("system has no RANKL3 pool (rankl_system(rankl3_trimer_molar=0))")
    result = dose_response(model, system, "RANKL3", rankl3_trimer_molar)
    result["pool_names"] = [p.name for p in system.pools]
    return result


def dose_mg_to_molar(
    dose_mg: float, molecular_weight_g_per_mol: float, volume_l: float, source: str
) -> float:
    """Concentration (M) of ``dose_mg`` fully dissolved in ``volume_l``: an upper bound
    that ignores bioavailability, distribution and clearance. Molecular weight and
    volume must be given by the user with their ``source``; none is defaulted."""
    if not source.strip():
        raise CompetitionError("dose conversion needs the source of molecular weight and volume")
    if dose_mg < 0 or molecular_weight_g_per_mol <= 0 or volume_l <= 0:
        raise CompetitionError(
            f"dose must be >= 0 and molecular weight, volume > 0: got {dose_mg} mg, "
            f"{molecular_weight_g_per_mol} g/mol, {volume_l} L"
        )
    return dose_mg * 1e-3 / molecular_weight_g_per_mol / volume_l
