"""Same-species OPG-versus-RANK energetics on RANKL: per-residue MM/GBSA by variant,
alanine hot spots side by side, and which differences the methods can resolve.

The energies come from :mod:`rankbind.energies` (computed once per complex by
``gpu_bench/rankl_axis.py``); this module holds the arithmetic over them:

* :func:`residue_components` — per-residue ΔG contributions per energy component,
  (F, R, C) kJ/mol, from a :class:`~rankbind.energies.mmgbsa.ComplexModel` built at
  ε_in = 1 and κ = 0, so every fixed-ε_in variant follows exactly
  (:func:`rankbind.energies.variants.rescale`; :func:`variant_values`).
* :func:`by_rankl_number` — RANKL residues summed over the protomers of one groove, keyed
  by the species' own UniProt number (a groove holds two protomers).
* :func:`resolve` — whether a difference is resolved: beyond ``z`` times its sampling
  uncertainty, beyond the spread between two structures of one complex (two crystals or
  two threading templates), and — separately — whether the method's measured accuracy on
  the antibody benchmarks supports reading it as a real difference.
* :func:`compare_species` — OPG versus RANK for one species from per-complex records.

Energies in kcal/mol unless a name says kJ; uncertainties are standard errors over
independent replicas (iid bootstrap, :func:`rankbind.energies.bootstrap.mean_sem`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from rankbind.energies.bootstrap import mean_sem
from rankbind.energies.mmgbsa import COMPONENTS, ComplexModel
from rankbind.energies.variants import VARIANTS, rescale
from rankbind.errors import RankbindError

KCAL = 4.184
Z_RESOLVED = 2.0  # a difference is resolved by sampling when |d| > 2 sigma (~95 %)


def residue_components(model: ComplexModel, frames: np.ndarray) -> tuple[list, np.ndarray]:
    """Per-residue ΔG_bind contributions per component.

    model: built at solute_dielectric 1 and salt 0 (variants are rescaled from there);
    frames: (F, N, 3) nm of the full topology the model was built from.
    Returns residues [(chain, number, name, side)] (R,) in the model's residue order and
    an array (F, R, C) kJ/mol, C = :data:`rankbind.energies.mmgbsa.COMPONENTS`; summed
    over R it is the frame's ΔG components of :func:`rankbind.energies.mmgbsa.mmgbsa`."""
    s = model.settings
    if s.solute_dielectric != 1.0 or s.salt_concentration != 0.0:
        raise RankbindError(
            f"residue_components: model built at solute_dielectric={s.solute_dielectric}, "
            f"salt_concentration={s.salt_concentration}; variants need 1 and 0"
        )
    if s.engine != "jax":
        raise RankbindError("residue_components needs the JAX engine (per-atom energies)")
    frames = np.asarray(frames, dtype=float)
    bound, apart = model.per_atom(frames[:, model.atoms])
    residues, index = [], np.zeros(len(model.atoms), dtype=np.int64)
    for k, res in enumerate(model.topology.residues()):
        atoms = [a.index for a in res.atoms()]
        residues.append(
            (res.chain.id, res.id, res.name, "ligand" if model.group[atoms[0]] else "receptor")
        )
        index[atoms] = k
    onehot = np.zeros((len(model.atoms), len(residues)))
    onehot[np.arange(len(model.atoms)), index] = 1.0
    return residues, np.stack([(bound[c] - apart[c]) @ onehot for c in COMPONENTS], axis=-1)


def variant_values(components: np.ndarray, variant: str) -> np.ndarray:
    """ΔG (kJ/mol) of a fixed-ε_in variant from ε_in = 1, κ = 0 components (..., C)."""
    spec = VARIANTS.get(variant)
    if spec is None or spec["eps_in"] == "residue":
        raise RankbindError(f"variant '{variant}': need a fixed-eps_in variant of {list(VARIANTS)}")
    parts = rescale({c: components[..., k] for k, c in enumerate(COMPONENTS)}, spec["eps_in"])
    if spec["nonpolar"] == "none":
        parts["nonpolar"] = 0.0 * parts["nonpolar"]
    return sum(parts.values())


def by_rankl_number(
    residues: Sequence[tuple], values: np.ndarray, side: str = "receptor"
) -> dict[int, np.ndarray]:
    """Values (F, R) summed per residue number over the chains on ``side`` (RANKL's
    protomers): {number: (F,)}."""
    out: dict[int, np.ndarray] = {}
    for k, (_, number, _, s) in enumerate(residues):
        if s == side:
            n = int(number)
            out[n] = out.get(n, 0.0) + values[:, k]
    return out


def estimate(values_kj: np.ndarray, n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """Mean and iid-bootstrap standard error of per-replica values (F,) kJ/mol, in kcal/mol
    and kJ/mol, with the per-replica values (kcal/mol)."""
    mean, sem, _ = mean_sem(np.asarray(values_kj, dtype=float), "iid", None, n_bootstrap, seed)
    return {
        "kcal_per_mol": mean / KCAL,
        "sem_kcal_per_mol": sem / KCAL,
        "kJ_per_mol": mean,
        "sem_kJ_per_mol": sem,
        "per_replica_kcal_per_mol": (np.asarray(values_kj) / KCAL).tolist(),
    }


def resolve(
    difference: float,
    sigma: float,
    spread: float | None = None,
    benchmark: dict | None = None,
    z: float = Z_RESOLVED,
) -> dict:
    """Verdict on a difference ``d`` (kcal/mol) with sampling standard error ``sigma``.

    spread: |difference| between two structures of one complex (the structural noise
    floor; None if only one structure). benchmark: the method's measured accuracy,
    ``{"pearson_ci95_low": float, "rmse_kcal": float}`` and optionally
    ``"calibration_slope"`` (experiment ≈ slope · score + offset: the difference is put on
    the experimental scale, slope · d, before it is compared with the RMSE; default 1).
    Verdicts, in order:
    ``"not resolved: no sampling uncertainty ..."`` (σ = 0: replicas identical or one),
    ``"not resolved: within sampling uncertainty"`` (|d| ≤ z σ),
    ``"not resolved: within structure spread"`` (|d| ≤ spread),
    ``"resolved by sampling; not supported by the benchmark"`` (benchmark r's 95 %
    interval reaches 0, or |slope · d| ≤ its RMSE), else ``"resolved"``."""
    d, sigma = float(difference), float(sigma)
    if not (math.isfinite(d) and math.isfinite(sigma)) or sigma < 0:
        raise RankbindError(
            f"resolve: difference {difference}, sigma {sigma}: need finite, sigma >= 0"
        )
    sampling = abs(d) > z * sigma
    structures = spread is None or abs(d) > float(spread)
    supported = None
    if benchmark is not None:
        slope = benchmark.get("calibration_slope", 1.0)
        supported = benchmark["pearson_ci95_low"] > 0 and abs(slope * d) > benchmark["rmse_kcal"]
    if sigma == 0.0:  # identical replicas (or one): the sampling error is unknown, not 0
        verdict = "not resolved: no sampling uncertainty (replicas identical or too few)"
    elif not sampling:
        verdict = "not resolved: within sampling uncertainty"
    elif not structures:
        verdict = "not resolved: within structure spread"
    elif supported is False:
        verdict = "resolved by sampling; not supported by the benchmark"
    else:
        verdict = "resolved"
    return {
        "difference_kcal_per_mol": d,
        "sigma_kcal_per_mol": sigma,
        "z": z,
        "exceeds_z_sigma": sampling,
        "structure_spread_kcal_per_mol": spread,
        "exceeds_structure_spread": structures,
        "benchmark_supports": supported,
        "verdict": verdict,
    }


def pooled(items: Sequence[dict]) -> tuple[float, float, float | None]:
    """(mean over structures, its sampling standard error, spread = max - min of the
    structure means or None for one structure) of estimates with ``kcal_per_mol`` and
    ``sem_kcal_per_mol``."""
    means = [i["kcal_per_mol"] for i in items]
    sem = math.sqrt(sum(i["sem_kcal_per_mol"] ** 2 for i in items)) / len(items)
    return float(np.mean(means)), sem, (max(means) - min(means)) if len(items) > 1 else None


def _difference(opg: Sequence[dict], rank: Sequence[dict], benchmark: dict | None) -> dict:
    a, sa, pa = pooled(opg)
    b, sb, pb = pooled(rank)
    spreads = [p for p in (pa, pb) if p is not None]
    out = {"OPG_kcal_per_mol": a, "OPG_sem": sa, "RANK_kcal_per_mol": b, "RANK_sem": sb}
    return out | resolve(a - b, math.hypot(sa, sb), max(spreads) if spreads else None, benchmark)


def compare_species(
    opg: Sequence[dict],
    rank: Sequence[dict],
    footprint: dict | None = None,
    benchmark: dict | None = None,
) -> dict:
    """OPG versus RANK on one species' RANKL from per-complex records (as written by
    ``gpu_bench/rankl_axis.py``: ``dG`` {estimator: estimate}, ``per_residue`` {variant:
    {number: estimate}}, ``alanine`` {variant: {number: estimate}}). ``footprint``: the
    species block of ``footprints_same_species.json`` (status per residue).
    ``benchmark``: {"dG": {estimator: {...}}, "ddG": {variant: {...}}} accuracy (see
    :func:`resolve`), matched by estimator name (``prodigy``, ``mmgbsa/<variant>``) and by
    alanine variant; an estimator without a benchmark figure gets no benchmark verdict.
    Differences are OPG - RANK (negative: OPG binds more strongly by this estimator)."""
    benchmark = benchmark or {}
    dg = {}
    for estimator in opg[0]["dG"]:
        if all(estimator in r["dG"] for r in (*opg, *rank)):
            dg[estimator] = _difference(
                [r["dG"][estimator] for r in opg],
                [r["dG"][estimator] for r in rank],
                (benchmark.get("dG") or {}).get(estimator),
            )
    status = {r["rankl_residue"]: r["status"] for r in (footprint or {}).get("residues", [])}
    residues = {}
    for key, kind in (("per_residue", None), ("alanine", "ddG")):
        for variant in opg[0].get(key, {}):
            rows = []
            numbers = sorted({int(n) for r in (*opg, *rank) for n in r[key].get(variant, {})})
            for n in numbers:
                get = [r[key].get(variant, {}).get(str(n)) for r in (*opg, *rank)]
                o = [g for g in get[: len(opg)] if g is not None]
                k = [g for g in get[len(opg) :] if g is not None]
                row = {"rankl_residue": n, "footprint": status.get(n, "not in footprint")}
                row["OPG"] = [None if g is None else g["kcal_per_mol"] for g in get[: len(opg)]]
                row["RANK"] = [None if g is None else g["kcal_per_mol"] for g in get[len(opg) :]]
                if o and k and len(o) == len(opg) and len(k) == len(rank):
                    bench = (benchmark.get(kind) or {}).get(variant) if kind else None
                    row |= _difference(o, k, bench or None)
                    if kind:
                        row["hotspot_OPG"] = row["OPG_kcal_per_mol"] >= 1.0
                        row["hotspot_RANK"] = row["RANK_kcal_per_mol"] >= 1.0
                else:
                    row["verdict"] = "not compared: missing in a structure"
                rows.append(row)
            residues[f"{key}/{variant}"] = rows
    return {
        "difference": "OPG - RANK (kcal/mol); negative: OPG scores as the stronger binder",
        "structures": {
            "OPG": [r["label"] for r in opg],
            "RANK": [r["label"] for r in rank],
        },
        "dG": dg,
        "residues": residues,
    }
