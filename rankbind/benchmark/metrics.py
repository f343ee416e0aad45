"""Accuracy metrics: correlations with bootstrap intervals, hot-spot classification,
docking success rates. DockQ/CAPRI of docked models: :mod:`rankbind.analysis.dockq`
(the one implementation; its definitions are documented there)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from rankbind.analysis.dockq import CAPRI_RANK, Partner, partner_from_atoms


def read_partner(path, chains) -> Partner:
    from rankbind.benchmark.datasets import read_atoms

    return partner_from_atoms(read_atoms(path), chains)


def success_rates(ranked_classes: list[list[str]], tops=(1, 5, 10)) -> dict:
    """Fraction of cases with an acceptable-or-better / medium-or-better pose within the
    top N; ``ranked_classes[case]`` = CAPRI classes of its poses in rank order."""
    out = {}
    n = len(ranked_classes)
    for top in tops:
        for level, name in ((1, "acceptable"), (2, "medium")):
            hits = sum(
                any(CAPRI_RANK[c] >= level for c in classes[:top]) for classes in ranked_classes
            )
            out[f"top{top}_{name}"] = {"n": hits, "of": n, "rate": hits / n if n else None}
    return out


# ------------------------------------------------------------------ statistics


def _pearson(x, y):
    return float(np.corrcoef(x, y)[0, 1])


def _spearman(x, y):
    return float(stats.spearmanr(x, y).statistic)


def _kendall(x, y):
    return float(stats.kendalltau(x, y).statistic)


def _rmse(x, y):
    return float(np.sqrt(np.mean((np.asarray(x) - np.asarray(y)) ** 2)))


STATISTICS = {"pearson": _pearson, "spearman": _spearman, "kendall": _kendall, "rmse": _rmse}


def correlations(
    predicted,
    experimental,
    n_bootstrap: int = 2000,
    seed: int = 0,
    which=("pearson", "spearman", "kendall", "rmse"),
) -> dict:
    """Point estimates and percentile bootstrap 95 % intervals (cases resampled with
    replacement; resamples with constant data are skipped) of each statistic."""
    x = np.asarray(predicted, dtype=float)
    y = np.asarray(experimental, dtype=float)
    n = len(x)
    out: dict = {"n": n}
    if n < 3:
        return out | {k: None for k in which}
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, n, size=(n_bootstrap, n))
    for name in which:
        fn = STATISTICS[name]
        value = fn(x, y)
        boot = []
        for s in samples:
            xs, ys = x[s], y[s]
            if name != "rmse" and (np.ptp(xs) == 0 or np.ptp(ys) == 0):
                continue
            boot.append(fn(xs, ys))
        lo, hi = np.percentile(boot, [2.5, 97.5]) if boot else (np.nan, np.nan)
        out[name] = {"value": value, "ci95": [float(lo), float(hi)]}
    return out


def linear_fit(x, y) -> tuple[float, float]:
    slope, intercept = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    return float(slope), float(intercept)


def cross_validated_calibration(predicted, experimental, groups) -> np.ndarray:
    """Leave-one-group-out linear calibration exp ≈ a·pred + b: each value is calibrated
    with a and b fitted on the other groups (complexes) only."""
    x = np.asarray(predicted, float)
    y = np.asarray(experimental, float)
    groups = np.asarray(groups)
    out = np.full_like(x, np.nan)
    for g in np.unique(groups):
        train = groups != g
        if train.sum() < 2 or np.ptp(x[train]) == 0:
            continue
        a, b = linear_fit(x[train], y[train])
        out[~train] = a * x[~train] + b
    return out


def roc_auc(scores, labels) -> float | None:
    """Area under the ROC curve (ties count one half); None with one class only."""
    s = np.asarray(scores, float)
    lab = np.asarray(labels, bool)
    pos, neg = s[lab], s[~lab]
    if not len(pos) or not len(neg):
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def hotspot_classification(predicted, experimental, threshold: float = 1.0) -> dict:
    """Hot spots are ΔΔG ≥ ``threshold`` kcal/mol: precision, recall of predicted hot spots
    against experimental ones, and the ROC AUC of predicted ΔΔG as the score."""
    p = np.asarray(predicted, float) >= threshold
    e = np.asarray(experimental, float) >= threshold
    tp = int((p & e).sum())
    return {
        "threshold_kcal_per_mol": threshold,
        "n": int(len(p)),
        "n_hotspots_exp": int(e.sum()),
        "n_hotspots_pred": int(p.sum()),
        "true_positives": tp,
        "precision": tp / int(p.sum()) if p.sum() else None,
        "recall": tp / int(e.sum()) if e.sum() else None,
        "roc_auc": roc_auc(predicted, e),
    }
