"""Named MM/GBSA variants: each a recorded set of physics choices.

A variant fixes the GB model (GBn2 with its mbondi3 radii, igb=8; OBC2 with mbondi2, igb=5),
the solute dielectric (fixed ε_in, or residue-type dependent for mutations), the
non-polar term (γ·SASA or none), the entropy term, and the interface trim. The same
variant names are used by the benchmark summaries and by :func:`settings_for`, which
turns a variant into :class:`rankbind.energies.mmgbsa.MMGBSASettings`.

Dielectric rescaling (:func:`rescale`). Without salt (κ = 0) every electrostatic term is
linear in a dielectric factor: Coulomb ∝ 1/ε_in and GB ∝ (1/ε_in − 1/ε_out) times a sum that
depends on geometry and Born radii only (radii do not depend on ε). So components computed
once at ε_in = 1 give every ε_in exactly; ``tests/test_variants.py`` checks this against a
direct evaluation at ε_in = 4.

Residue-type dependent dielectric (ΔΔG of a mutation): ε_in by the wild-type residue:
1 for non-polar (A, V, L, I, M, F, W, P, G, C), 2 for polar (S, T, N, Q, Y, H), 4 for charged
(D, E, K, R) — the choice of residue-type-specific interior dielectrics used for alanine
scanning (e.g. Yan, Wang et al., PLoS ONE 2017, who found ε = 1/2/4-type choices best).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rankbind.errors import RankbindError

KCAL = 4.184
EPS_OUT = 78.5
NONPOLAR = {"ALA", "VAL", "LEU", "ILE", "MET", "PHE", "TRP", "PRO", "GLY", "CYS"}
POLAR = {"SER", "THR", "ASN", "GLN", "TYR", "HIS"}
CHARGED = {"ASP", "GLU", "LYS", "ARG"}
RESIDUE_DIELECTRIC = {"nonpolar": 1.0, "polar": 2.0, "charged": 4.0}

# name -> choices; "eps_in": float or "residue" (mutations only)
VARIANTS: dict[str, dict] = {
    f"{gb.lower()}_e{e:g}{'' if np_ else '_nonp0'}": {
        "gb_model": gb,
        "eps_in": e,
        "nonpolar": "sasa" if np_ else "none",
    }
    for gb in ("GBn2", "OBC2")
    for e in (1.0, 2.0, 4.0)
    for np_ in (True, False)
}
VARIANTS.update(
    {
        f"{gb.lower()}_eres": {"gb_model": gb, "eps_in": "residue", "nonpolar": "sasa"}
        for gb in ("GBn2", "OBC2")
    }
)


def residue_class(name: str) -> str:
    if name in CHARGED:
        return "charged"
    if name in POLAR:
        return "polar"
    return "nonpolar"


def rescale(components: dict[str, float], eps_in: float, eps_out: float = EPS_OUT) -> dict:
    """Components (kJ/mol; keys coulomb, lj, gb, nonpolar, bonded terms) computed at
    ε_in = 1 and κ = 0, rescaled to ``eps_in`` (exact for κ = 0)."""
    if eps_in <= 0:
        raise RankbindError(f"eps_in={eps_in}: must be > 0")
    out = dict(components)
    out["coulomb"] = components["coulomb"] / eps_in
    out["gb"] = components["gb"] * (1 / eps_in - 1 / eps_out) / (1 - 1 / eps_out)
    return out


def variant_total(
    components: dict[str, float], variant: str, residue_name: str | None = None
) -> float:
    """ΔG or ΔΔG (kJ/mol) of ``variant`` from ε_in = 1 components of its GB model."""
    spec = VARIANTS[variant]
    eps = spec["eps_in"]
    if eps == "residue":
        if residue_name is None:
            raise RankbindError(f"variant {variant}: residue-type ε_in needs the mutated residue")
        eps = RESIDUE_DIELECTRIC[residue_class(residue_name)]
    c = rescale(components, float(eps))
    if spec["nonpolar"] == "none":
        c["nonpolar"] = 0.0
    return float(sum(c.values()))


def settings_for(variant: str, **overrides):
    """MMGBSASettings of a fixed-ε_in variant (residue-type variants are per mutation)."""
    from rankbind.energies.mmgbsa import MMGBSASettings

    spec = VARIANTS[variant]
    if spec["eps_in"] == "residue":
        raise RankbindError(f"variant {variant}: ε_in depends on the mutated residue")
    base = MMGBSASettings(  # variants are defined at κ = 0 (exact ε_in rescaling)
        gb_model=spec["gb_model"],
        solute_dielectric=spec["eps_in"],
        nonpolar=spec["nonpolar"],
        salt_concentration=0.0,
    )
    return base.replace(**overrides)


# ---------------------------------------------------------------------------------------
# benchmark summaries (gpu_bench/accuracy_mmgbsa.py cache)


def _abbind_table(cache: Path):
    rows = []
    for path in sorted((cache / "abbind").glob("*.json")):
        record = json.loads(path.read_text())
        for m in record.get("mutants", []):
            if "ddg_components" not in m:
                continue
            rows.append((record["pdb"], m, record))
    return rows


def summarize_cache(cache: str | Path, hotspot_kcal: float = 1.0) -> dict:
    """Figures of every variant: raw (no fit) and calibrated (linear, cross-validated by
    complex, leave-one-complex-out), plus a nested variant choice."""
    from rankbind.energies.calibration import cross_validate, figures, select_variant

    cache = Path(cache)
    out: dict = {"variants": {k: dict(v) for k, v in VARIANTS.items()}}
    rows = _abbind_table(cache)
    if rows:
        # a homology model (AB-Bind "HM_" files) is the same complex as its crystal
        groups = [pdb.removeprefix("HM_") for pdb, _, _ in rows]
        y = np.array([m["ddg_exp"] for _, m, _ in rows])
        table = {}
        section: dict = {
            "n_mutations": len(rows),
            "n_complexes": len(set(groups)),
            "complexes": sorted(set(groups)),
            "structures": sorted({pdb for pdb, _, _ in rows}),
            "grouping": "by complex; HM_ homology models grouped with their crystal",
            "hotspot_threshold_kcal": hotspot_kcal,
            "n_outside_trim_predicted_zero": sum(1 for _, m, _ in rows if not m["in_trim"]),
            "by_variant": {},
        }
        for name, spec in VARIANTS.items():
            x = np.array(
                [
                    variant_total(
                        m["ddg_components"][spec["gb_model"]], name, m.get("wt_residue", "ALA")
                    )
                    / KCAL
                    for _, m, _ in rows
                ]
            )
            table[name] = x
            entry = {"raw": figures(x, y, hotspot_kcal)}
            if len(set(groups)) >= 3:
                entry["calibrated_loco"] = cross_validate(
                    x, y, groups, [name], None, threshold=hotspot_kcal
                ).figures
            section["by_variant"][name] = entry
        if len(set(groups)) >= 3:
            nested = select_variant(table, y, groups, None, "pearson_r", hotspot_kcal)
            section["nested_variant_choice"] = nested.as_dict() | {
                "predictions": [
                    {"pdb": g, "mutation": m["mutation"], "exp": float(e), "pred": float(p)}
                    for (g, m, _), e, p in zip(rows, y, nested.predicted, strict=True)
                ]
            }
        cpu = {pdb: rec["cpu_s_total"] for pdb, _, rec in rows if "cpu_s_total" in rec}
        section["cpu_s_per_complex"] = cpu
        out["abbind_alanine"] = section
    antibody = []
    for path in sorted((cache / "antibody").glob("*.json")):
        record = json.loads(path.read_text())
        if "dg_components" in record:
            antibody.append(record)
    if antibody:
        y = np.array([r["dg_exp"] for r in antibody])
        groups = [r["case"] for r in antibody]
        section = {"n_complexes": len(antibody), "cases": groups, "by_variant": {}}
        table = {}
        for name, spec in VARIANTS.items():
            if spec["eps_in"] == "residue":
                continue
            x = np.array(
                [variant_total(r["dg_components"][spec["gb_model"]], name) / KCAL for r in antibody]
            )
            table[name] = x
            section["by_variant"][name] = {
                "raw": figures(x, y),
                "calibrated_loco": cross_validate(x, y, groups, [name], None).figures
                if len(antibody) >= 3
                else None,
            }
        prod = [r.get("prodigy_kcal") for r in antibody]
        if all(p is not None for p in prod):
            p = np.array(prod, float)
            section["prodigy"] = {
                "raw": figures(p, y),
                "calibrated_loco": cross_validate(p, y, groups, ["prodigy"], None).figures
                if len(antibody) >= 3
                else None,
            }
        if len(antibody) >= 3:
            section["nested_variant_choice"] = select_variant(
                table, y, groups, None, "pearson_r"
            ).as_dict()
        section["cpu_s_per_complex"] = {r["case"]: r.get("cpu_s_total") for r in antibody}
        out["antibody_affinity"] = section
    return out
