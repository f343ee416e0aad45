"""Named MM/GBSA variants: each a recorded set of physics choices.

A variant fixes the GB model (GBn2 with its mbondi3 radii, igb=8; OBC2 with mbondi2, igb=5),
the solute dielectric (fixed ε_in, or residue-type dependent for mutations), the
non-polar term (γ·SASA or none), the entropy term, and the interface trim. The same
variant names are used by the benchmark summaries and by :func:`settings_for`, which
turns a variant into :class:`rankbind.energies.mmgbsa.MMGBSASettings`.

Dielectric rescaling (:func:`rescale`). Without salt (κ = 0) every electrostatic term is
linear in a dielectric factor: Coulomb ∝ 1/ε_in and GB ∝ (1/ε_in − 1/ε_out) times a sum that
depends on geometry and Born radii only (radii do not depend on ε). So components computed
once at ε_in = 1 give every ε_in exactly; ``tests/test_energies.py`` checks this against a
direct evaluation at ε_in = 4.

Residue-type dependent dielectric (ΔΔG of a mutation): ε_in by the wild-type residue:
1 for non-polar (A, V, L, I, M, F, W, P, G, C), 2 for polar (S, T, N, Q, Y, H), 4 for charged
(D, E, K, R) — the choice of residue-type-specific interior dielectrics used for alanine
scanning (e.g. Yan, Wang et al., PLoS ONE 2017, who found ε = 1/2/4-type choices best).
Protonation-state names are classed by the charge of that state: HIP (HSP), CYM charged; HID,
HIE and the neutral acids and base ASH, GLH, LYN polar; CYX (disulfide) and MSE non-polar.

The variant each task uses by default is fixed in :mod:`rankbind.settings`
(``AFFINITY_VARIANT``, ``DDG_VARIANT``) from nested cross-validation by complex.
"""

from __future__ import annotations

import numpy as np

from rankbind.errors import RankbindError
from rankbind.settings import MMGBSA_VARIANTS as VARIANTS
from rankbind.structures.sequences import standard_name

KCAL = 4.184
EPS_OUT = 78.5
NONPOLAR = {"ALA", "VAL", "LEU", "ILE", "MET", "PHE", "TRP", "PRO", "GLY", "CYS"}
POLAR = {"SER", "THR", "ASN", "GLN", "TYR", "HIS"}
CHARGED = {"ASP", "GLU", "LYS", "ARG"}
RESIDUE_DIELECTRIC = {"nonpolar": 1.0, "polar": 2.0, "charged": 4.0}

# protonation states whose charge differs from their residue type's usual one
CHARGED_STATES = {"HIP", "HSP", "CYM"}  # His with both ring N protonated: +1; thiolate: -1
NEUTRAL_STATES = {"ASH", "GLH", "LYN"}  # protonated acids, deprotonated lysine: polar


def residue_class(name: str) -> str:
    """The class ("nonpolar", "polar", "charged") of an amino-acid residue name (standard,
    protonation-state or modified: :func:`rankbind.structures.sequences.standard_name`)."""
    if name in CHARGED_STATES:
        return "charged"
    if name in NEUTRAL_STATES:
        return "polar"
    standard = standard_name(name)
    for label, names in (("charged", CHARGED), ("polar", POLAR), ("nonpolar", NONPOLAR)):
        if standard in names:
            return label
    raise RankbindError(f"residue {name!r}: not an amino acid (residue-type ε_in unknown)")


def rescale(components: dict[str, float], eps_in: float, eps_out: float = EPS_OUT) -> dict:
    """Components (kJ/mol; keys coulomb, lj, gb, nonpolar, bonded terms) computed at
    ε_in = 1 and κ = 0, rescaled to ``eps_in`` (exact for κ = 0)."""
    if eps_in <= 0:
        raise RankbindError(f"eps_in={eps_in}: must be > 0")
    out = dict(components)
    out["coulomb"] = components["coulomb"] / eps_in
    out["gb"] = components["gb"] * (1 / eps_in - 1 / eps_out) / (1 - 1 / eps_out)
    return out


def variant_components(
    components: dict[str, float], variant: str, residue_name: str | None = None
) -> dict[str, float]:
    """Components (kJ/mol) of ``variant`` from ε_in = 1 components of its GB model:
    rescaled to its ε_in, the non-polar term zeroed where it has none."""
    spec = VARIANTS[variant]
    eps = spec["eps_in"]
    if eps == "residue":
        if residue_name is None:
            raise RankbindError(f"variant {variant}: residue-type ε_in needs the mutated residue")
        eps = RESIDUE_DIELECTRIC[residue_class(residue_name)]
    c = rescale(components, float(eps))
    if spec["nonpolar"] == "none":
        c["nonpolar"] = 0.0
    return c


def variant_total(
    components: dict[str, float], variant: str, residue_name: str | None = None
) -> float:
    """ΔG or ΔΔG (kJ/mol) of ``variant`` from ε_in = 1 components of its GB model."""
    return float(sum(variant_components(components, variant, residue_name).values()))


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
# benchmark figures of every variant


def exact_variants(gb_models, salt_molar: float) -> list[str]:
    """Variants computable exactly from ε_in = 1 components of ``gb_models``: all of them at
    κ = 0; only the ε_in = 1 ones (with/without non-polar term) with salt, where the GB
    term is not proportional to (1/ε_in − 1/ε_out)."""
    return [
        name
        for name, spec in VARIANTS.items()
        if spec["gb_model"] in gb_models and (salt_molar == 0 or spec["eps_in"] == 1.0)
    ]


def variant_scores(
    components: list[dict[str, dict[str, float]]],
    residues: list[str | None],
    names: list[str],
) -> dict[str, np.ndarray]:
    """{variant: (n,) kcal/mol} from per-row ε_in = 1 components {gb_model: {component:
    kJ/mol}}; ``residues`` the wild-type residue per row (residue-type ε_in), None for a
    complex's ΔG (residue-type variants are then skipped)."""
    out = {}
    for name in names:
        spec = VARIANTS[name]
        if spec["eps_in"] == "residue" and any(r is None for r in residues):
            continue
        out[name] = np.array(
            [
                variant_total(c[spec["gb_model"]], name, r) / KCAL
                for c, r in zip(components, residues, strict=True)
            ]
        )
    return out


def evaluate_variants(
    scores: dict[str, np.ndarray],
    observed,
    groups,
    threshold: float | None = None,
    n_bootstrap: int = 2000,
    seed: int = 0,
    criterion: str = "pearson_r",
    select_from: list[str] | None = None,
) -> dict:
    """Figures of every variant: raw (no fit) and after a linear calibration fitted with
    leave-one-complex-out cross-validation (out-of-fold predictions only), each with
    bootstrap 95 % intervals; plus the nested procedure that chooses the variant by
    ``criterion`` inside each training fold (its out-of-fold figure is the honest one), among
    ``select_from`` (default: all of ``scores``)."""
    from rankbind.benchmark import metrics
    from rankbind.energies.calibration import cross_validate, select_variant

    y = np.asarray(observed, float)
    groups = [str(g) for g in groups]
    n_groups = len(set(groups))

    def block(x) -> dict:
        out = {"figures": metrics.correlations(x, y, n_bootstrap, seed)}
        if threshold is not None:
            out["hotspots"] = metrics.hotspot_classification(x, y, threshold)
            out["hotspots_ci95"] = hotspot_intervals(x, y, threshold, n_bootstrap, seed)
        return out

    result: dict = {"n": len(y), "n_complexes": n_groups, "by_variant": {}}
    for name, x in scores.items():
        entry = {"raw": block(x)}
        if n_groups >= 3:
            cv = cross_validate(x, y, groups, [name], None, threshold=threshold)
            entry["loco_calibrated"] = block(cv.predicted) | {"fit_all_rows": cv.final.as_dict()}
        result["by_variant"][name] = entry
    pool = {k: scores[k] for k in (select_from if select_from is not None else scores)}
    if n_groups >= 3 and pool:
        nested = select_variant(pool, y, groups, None, criterion, threshold)
        result["nested_selection"] = block(nested.predicted) | {
            "criterion": f"leave-one-complex-out {criterion} of the linearly calibrated "
            "variant, inside each training fold",
            "chosen_per_fold": dict(
                zip(
                    [
                        ",".join(sorted(set(np.asarray(groups)[t].tolist())))
                        for _, t in nested.folds
                    ],
                    nested.chosen,
                    strict=True,
                )
            ),
            "final_choice": nested.final.columns[0],
            "final_fit_all_rows": nested.final.as_dict(),
        }
    return result


def hotspot_intervals(predicted, observed, threshold: float, n_bootstrap: int, seed: int):
    """Percentile bootstrap 95 % intervals (rows resampled) of hot-spot precision, recall
    and ROC AUC (predicted and observed ≥ ``threshold``)."""
    from rankbind.benchmark.metrics import hotspot_classification

    p, o = np.asarray(predicted, float), np.asarray(observed, float)
    rng = np.random.default_rng(seed)
    values: dict[str, list] = {"precision": [], "recall": [], "roc_auc": []}
    for s in rng.integers(0, len(p), size=(n_bootstrap, len(p))):
        h = hotspot_classification(p[s], o[s], threshold)
        for k in values:
            if h[k] is not None:
                values[k].append(h[k])
    return {
        k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if v else None
        for k, v in values.items()
    }


def markdown_table(section: dict, title: str, threshold: float | None) -> list[str]:
    """Markdown rows of :func:`evaluate_variants`' result."""

    def f(e):
        if not e or e.get("value") is None:
            return ""
        return f"{e['value']:.2f} [{e['ci95'][0]:.2f}, {e['ci95'][1]:.2f}]"

    def hs(b):
        h, ci = b.get("hotspots"), b.get("hotspots_ci95") or {}
        if not h:
            return []
        out = []
        for k in ("precision", "recall", "roc_auc"):
            v, c = h[k], ci.get(k)
            out.append(
                "n/a" if v is None else f"{v:.2f}" + (f" [{c[0]:.2f}, {c[1]:.2f}]" if c else "")
            )
        return out

    head = "| variant | fit | Pearson r | Spearman ρ | RMSE |"
    sep = "|---|---|---|---|---|"
    if threshold is not None:
        head += " hot-spot precision | recall | ROC AUC |"
        sep += "---|---|---|"
    lines = [f"### {title}", "", f"n = {section['n']}, {section['n_complexes']} complexes "
             "(LOCO: leave-one-complex-out linear calibration, out-of-fold only)", "", head, sep]  # fmt: skip
    rows = [(n, k, e[k]) for n, e in section["by_variant"].items() for k in ("raw", "loco_calibrated") if k in e]  # fmt: skip
    if "nested_selection" in section:
        rows.append(("nested choice (" + section["nested_selection"]["final_choice"] + " overall)",
                     "LOCO", section["nested_selection"]))  # fmt: skip
    for name, kind, b in rows:
        fig = b["figures"]
        cells = [f(fig.get("pearson")), f(fig.get("spearman")), f(fig.get("rmse"))] + hs(b)
        lines.append(
            f"| {name} | {'raw' if kind == 'raw' else 'LOCO'} | " + " | ".join(cells) + " |"
        )
    return lines + [""]


def headline(section: dict, variant: str) -> dict:
    """The figures of the ``variant`` fixed before evaluation (raw and leave-one-complex-out
    calibrated) from :func:`evaluate_variants`' ``section``, with the nested-CV figure beside
    them. On the development cases the nested figure is the honest one (the variant was
    chosen on them); on held-out cases the fixed variant's is."""
    entry = section["by_variant"].get(variant)
    if entry is None:
        return {"variant": variant, "error": "not computed from this run's components"}
    out = {"variant": variant, "fixed": "before evaluation (rankbind.settings)"} | entry
    if "nested_selection" in section:
        nested = section["nested_selection"]
        out["nested_selection"] = {k: nested[k] for k in ("figures", "final_choice", "criterion")}
        out["nested_selection"] |= {k: nested[k] for k in ("hotspots", "hotspots_ci95")
                                    if k in nested}  # fmt: skip
    return out


def headline_table(section: dict, variant: str, title: str, threshold: float | None) -> list[str]:
    """Markdown rows of the fixed ``variant`` and the nested choice (:func:`headline`)."""
    if variant not in section["by_variant"]:
        return [f"### {title}", "", f"variant {variant}: not computed from this run's "
                "components (its GB model was not stored, or ε_in ≠ 1 with salt)", ""]  # fmt: skip
    part = {k: section[k] for k in ("n", "n_complexes", "nested_selection") if k in section}
    part["by_variant"] = {f"{variant} (fixed before evaluation)": section["by_variant"][variant]}
    return markdown_table(part, title, threshold)
