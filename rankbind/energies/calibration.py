"""Calibration of affinity estimators, cross-validated BY COMPLEX.

Any fitted parameter (a linear scale and offset on a score, the choice among variants such
as the solute dielectric, consensus weights over several scores) is fitted on training
complexes only and evaluated on held-out complexes. Rows (e.g. the mutations of AB-Bind)
carry a ``group`` (the complex, e.g. the PDB id); folds are made of whole groups, so no
test complex ever contributes to its own fit (:func:`grouped_folds`,
:func:`check_folds`).

* :func:`fit_linear` — least-squares ``y ≈ X w + b`` (one score: scale and offset; several
  scores: consensus weights), optional ridge ``alpha`` on ``w``.
* :func:`cross_validate` — out-of-fold predictions from :func:`fit_linear` per fold, and the
  cross-validated figures (Pearson r, Spearman ρ, RMSE, MAE, and ROC AUC for a binary
  threshold such as hot spots, ΔΔG ≥ 1 kcal/mol).
* :func:`select_variant` — choose among named variants (each a score column) by the
  cross-validated figure; the choice itself is made inside each training fold, so the
  reported figure is honest (nested: selection + fit both see training complexes only).

Units are whatever the caller's scores and targets are (kcal/mol throughout rankbind).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rankbind.errors import RankbindError


class CalibrationError(RankbindError):
    """Calibration input is unusable (shapes, too few complexes, NaN)."""


# ---------------------------------------------------------------------------------------
# metrics (plain numpy; d_benchmark's metrics module may supersede these)


def pearson(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def _rank(a: np.ndarray) -> np.ndarray:
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(len(a))
    ranks[order] = np.arange(len(a), dtype=float)
    for value in np.unique(a):  # average ties
        tie = a == value
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(x, y) -> float:
    return pearson(_rank(np.asarray(x, float)), _rank(np.asarray(y, float)))


def roc_auc(scores, labels) -> float:
    """Probability that a random positive scores above a random negative (ties count ½)."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def figures(predicted, observed, threshold: float | None = None) -> dict:
    """Pearson r, Spearman ρ, RMSE, MAE, n; ROC AUC for ``observed >= threshold``."""
    p, o = np.asarray(predicted, float), np.asarray(observed, float)
    out = {
        "n": int(len(p)),
        "pearson_r": pearson(p, o),
        "spearman_rho": spearman(p, o),
        "rmse": float(np.sqrt(np.mean((p - o) ** 2))) if len(p) else float("nan"),
        "mae": float(np.mean(np.abs(p - o))) if len(p) else float("nan"),
    }
    if threshold is not None:
        out["roc_auc"] = roc_auc(p, o >= threshold)
        out["threshold"] = threshold
        out["n_positive"] = int((o >= threshold).sum())
    return out


# ---------------------------------------------------------------------------------------
# folds


def grouped_folds(
    groups: Sequence, n_folds: int | None = None, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(train rows, test rows)] with every group wholly in one test fold.

    ``n_folds=None`` (or ≥ number of groups): leave-one-complex-out. Otherwise groups are
    shuffled with ``seed`` and dealt round-robin by size (largest first) into ``n_folds``
    folds of similar row counts."""
    groups = np.asarray([str(g) for g in groups])
    unique = sorted(set(groups.tolist()))
    if len(unique) < 2:
        raise CalibrationError(f"cross-validation by complex needs ≥ 2 complexes, got {unique}")
    if n_folds is None or n_folds >= len(unique):
        assignment = {g: k for k, g in enumerate(unique)}
        n_folds = len(unique)
    else:
        if n_folds < 2:
            raise CalibrationError(f"n_folds={n_folds}: need ≥ 2")
        rng = np.random.default_rng(seed)
        shuffled = [unique[i] for i in rng.permutation(len(unique))]
        sizes = {g: int((groups == g).sum()) for g in unique}
        shuffled.sort(key=lambda g: -sizes[g])  # stable: ties keep the shuffled order
        load = np.zeros(n_folds)
        assignment = {}
        for g in shuffled:
            k = int(np.argmin(load))
            assignment[g] = k
            load[k] += sizes[g]
    fold_of_row = np.array([assignment[g] for g in groups])
    rows = np.arange(len(groups))
    return [(rows[fold_of_row != k], rows[fold_of_row == k]) for k in range(n_folds)]


def check_folds(groups: Sequence, folds) -> None:
    """Raise unless every row is tested exactly once and no test group is in its training
    rows."""
    groups = np.asarray([str(g) for g in groups])
    tested = np.zeros(len(groups), int)
    for train, test in folds:
        tested[test] += 1
        leak = set(groups[train].tolist()) & set(groups[test].tolist())
        if leak:
            raise CalibrationError(f"complexes {sorted(leak)} are in both a fit and its test")
    if not np.all(tested == 1):
        raise CalibrationError("folds do not test every row exactly once")


# ---------------------------------------------------------------------------------------
# fits


@dataclass(frozen=True)
class LinearFit:
    """y ≈ X @ weights + offset; ``columns`` name the score columns."""

    columns: tuple[str, ...]
    weights: np.ndarray
    offset: float
    alpha: float = 0.0

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, float).reshape(len(x), -1) @ self.weights + self.offset

    def as_dict(self) -> dict:
        return {
            "columns": list(self.columns),
            "weights": [float(w) for w in self.weights],
            "offset": float(self.offset),
            "ridge_alpha": self.alpha,
            "model": "y = sum_k w_k * score_k + offset (least squares)",
        }


def fit_linear(
    x, y, columns: Sequence[str] | None = None, alpha: float = 0.0, fit_offset: bool = True
) -> LinearFit:
    """Least squares (ridge ``alpha`` on the weights, never on the offset)."""
    x = np.asarray(x, float)
    x = x.reshape(len(x), -1)
    y = np.asarray(y, float)
    if len(x) != len(y) or len(y) < 2:
        raise CalibrationError(f"fit_linear: {len(x)} score rows vs {len(y)} targets (need ≥ 2)")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise CalibrationError("fit_linear: scores or targets contain NaN/inf")
    columns = tuple(columns or [f"score{k}" for k in range(x.shape[1])])
    if fit_offset:
        xm, ym = x.mean(axis=0), y.mean()
    else:
        xm, ym = np.zeros(x.shape[1]), 0.0
    xc, yc = x - xm, y - ym
    a = xc.T @ xc + alpha * np.eye(x.shape[1])
    w = np.linalg.lstsq(a, xc.T @ yc, rcond=None)[0]
    return LinearFit(columns, w, float(ym - xm @ w), alpha)


@dataclass
class CrossValidation:
    """Out-of-fold predictions and their figures. ``fits``: one per fold; ``folds``: the
    (train, test) row indices; ``final``: the fit on all rows (for later use, fixed before
    any final evaluation)."""

    predicted: np.ndarray
    observed: np.ndarray
    groups: np.ndarray
    folds: list
    fits: list
    final: LinearFit
    figures: dict
    scheme: str
    chosen: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "scheme": self.scheme,
            "n_folds": len(self.folds),
            "n_complexes": int(len(set(self.groups.tolist()))),
            "cross_validated": self.figures,
            "final_fit_all_rows": self.final.as_dict(),
            "fold_fits": [f.as_dict() for f in self.fits],
            "chosen_per_fold": self.chosen,
            "test_complexes_per_fold": [
                sorted(set(self.groups[test].tolist())) for _, test in self.folds
            ],
        }


def cross_validate(
    x,
    y,
    groups: Sequence,
    columns: Sequence[str] | None = None,
    n_folds: int | None = None,
    alpha: float = 0.0,
    threshold: float | None = None,
    seed: int = 0,
    fit_offset: bool = True,
) -> CrossValidation:
    """Grouped K-fold (``n_folds``) or leave-one-complex-out (``None``) cross-validation of
    :func:`fit_linear`. The figures are on out-of-fold predictions only."""
    x = np.asarray(x, float)
    x = x.reshape(len(x), -1)
    y = np.asarray(y, float)
    groups = np.asarray([str(g) for g in groups])
    if not len(x) == len(y) == len(groups):
        raise CalibrationError(f"x {len(x)}, y {len(y)}, groups {len(groups)}: lengths differ")
    folds = grouped_folds(groups, n_folds, seed)
    check_folds(groups, folds)
    predicted = np.full(len(y), np.nan)
    fits = []
    for train, test in folds:
        fit = fit_linear(x[train], y[train], columns, alpha, fit_offset)
        predicted[test] = fit.predict(x[test])
        fits.append(fit)
    scheme = (
        "leave-one-complex-out"
        if len(folds) == len(set(groups.tolist()))
        else f"grouped {len(folds)}-fold by complex (seed {seed})"
    )
    return CrossValidation(
        predicted=predicted,
        observed=y,
        groups=groups,
        folds=folds,
        fits=fits,
        final=fit_linear(x, y, columns, alpha, fit_offset),
        figures=figures(predicted, y, threshold),
        scheme=scheme,
    )


def select_variant(
    scores: dict[str, Sequence[float]],
    y,
    groups: Sequence,
    n_folds: int | None = None,
    criterion: str = "pearson_r",
    threshold: float | None = None,
    seed: int = 0,
    fit_offset: bool = True,
) -> CrossValidation:
    """Nested choice of one variant (e.g. solute dielectric 1/2/4): in each outer fold the
    variant with the best inner cross-validated ``criterion`` (higher is better; RMSE/MAE
    lower) on the training complexes is chosen and linearly calibrated there, then applied
    to the held-out complexes. ``chosen`` records each fold's choice."""
    names = list(scores)
    if not names:
        raise CalibrationError("select_variant needs at least one variant")
    y = np.asarray(y, float)
    groups = np.asarray([str(g) for g in groups])
    table = {k: np.asarray(v, float) for k, v in scores.items()}
    sign = -1.0 if criterion in ("rmse", "mae") else 1.0
    folds = grouped_folds(groups, n_folds, seed)
    check_folds(groups, folds)
    predicted = np.full(len(y), np.nan)
    fits, chosen = [], []
    for train, test in folds:
        best, best_value = names[0], -np.inf
        if len(names) > 1 and len(set(groups[train].tolist())) >= 2:
            for name in names:
                inner = cross_validate(
                    table[name][train],
                    y[train],
                    groups[train],
                    [name],
                    n_folds,
                    threshold=threshold,
                    seed=seed,
                    fit_offset=fit_offset,
                )
                value = sign * inner.figures.get(criterion, np.nan)
                if np.isfinite(value) and value > best_value:
                    best, best_value = name, value
        fit = fit_linear(table[best][train], y[train], [best], fit_offset=fit_offset)
        predicted[test] = fit.predict(table[best][test])
        fits.append(fit)
        chosen.append(best)
    # the final choice, on all rows, by the same rule
    overall = {
        n: sign
        * cross_validate(
            table[n], y, groups, [n], n_folds, threshold=threshold, seed=seed, fit_offset=fit_offset
        ).figures.get(criterion, np.nan)
        for n in names
    }
    final_name = max(names, key=lambda n: overall[n] if np.isfinite(overall[n]) else -np.inf)
    return CrossValidation(
        predicted=predicted,
        observed=y,
        groups=groups,
        folds=folds,
        fits=fits,
        final=fit_linear(table[final_name], y, [final_name], fit_offset=fit_offset),
        figures=figures(predicted, y, threshold),
        scheme=f"nested variant selection by {criterion}; outer "
        + ("leave-one-complex-out" if n_folds is None else f"grouped {n_folds}-fold"),
        chosen=chosen,
    )
