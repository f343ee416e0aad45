"""Calibration by complex: folds never put a test complex in its own fit (checked fold by
fold with plain set logic), fits against numpy.polyfit, metrics against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from rankbind.energies.calibration import (
    CalibrationError,
    check_folds,
    cross_validate,
    figures,
    fit_linear,
    grouped_folds,
    select_variant,
)


def _data(seed=0, n_groups=7):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"P{k}" for k in range(n_groups)], rng.integers(2, 9, n_groups))
    score = rng.normal(0, 3, len(groups))
    y = 0.4 * score - 1.0 + rng.normal(0, 0.5, len(groups))
    return score, y, groups


@pytest.mark.parametrize("n_folds", [None, 3, 5])
def test_no_test_complex_is_ever_in_its_own_fit(n_folds):
    score, y, groups = _data()
    folds = grouped_folds(groups, n_folds, seed=3)
    assert len(folds) == (len(set(groups)) if n_folds is None else n_folds)
    seen = []
    for train, test in folds:
        assert len(test) > 0
        assert not set(groups[train]) & set(groups[test])
        assert set(train) | set(test) == set(range(len(groups)))
        seen.extend(test.tolist())
    assert sorted(seen) == list(range(len(groups)))
    cv = cross_validate(score, y, groups, n_folds=n_folds, seed=3)
    for (train, test), fit in zip(cv.folds, cv.fits, strict=True):
        slope, intercept = np.polyfit(score[train], y[train], 1)  # fit on training rows only
        assert fit.weights[0] == pytest.approx(slope) and fit.offset == pytest.approx(intercept)
        np.testing.assert_allclose(cv.predicted[test], slope * score[test] + intercept)
    assert cv.figures["pearson_r"] == pytest.approx(stats.pearsonr(cv.predicted, y)[0])


def test_leaky_folds_are_refused():
    groups = np.array(["A", "A", "B", "B"])
    with pytest.raises(CalibrationError, match="A"):
        check_folds(
            groups, [(np.array([0, 2, 3]), np.array([1])), (np.array([1]), np.array([0, 2, 3]))]
        )
    with pytest.raises(CalibrationError, match="2 complexes"):
        grouped_folds(["A", "A"])


def test_metrics_match_scipy():
    rng = np.random.default_rng(1)
    p, o = rng.normal(size=40), rng.normal(size=40)
    o[:5] = p[:5]
    f = figures(p, o, threshold=0.5)
    assert f["pearson_r"] == pytest.approx(stats.pearsonr(p, o)[0])
    assert f["spearman_rho"] == pytest.approx(stats.spearmanr(p, o)[0])
    assert f["rmse"] == pytest.approx(np.sqrt(np.mean((p - o) ** 2)))
    labels = o >= 0.5
    u = stats.mannwhitneyu(p[labels], p[~labels]).statistic
    assert f["roc_auc"] == pytest.approx(u / (labels.sum() * (~labels).sum()))


def test_consensus_fit_and_nested_variant_choice():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 2))
    y = 0.3 * x[:, 0] - 0.7 * x[:, 1] + 2.0
    fit = fit_linear(x, y, ["a", "b"])
    np.testing.assert_allclose(fit.weights, [0.3, -0.7], atol=1e-10)
    assert fit.offset == pytest.approx(2.0)
    score, y, groups = _data(4, n_groups=8)
    variants = {"eps1": rng.normal(size=len(y)), "eps4": score}  # eps4 carries the signal
    cv = select_variant(variants, y, groups, n_folds=4, seed=1)
    assert cv.chosen == ["eps4"] * 4 and cv.final.columns == ("eps4",)
    assert cv.figures["pearson_r"] > 0.8
    assert cv.as_dict()["scheme"].startswith("nested")


def test_nested_choice_never_sees_its_test_complex():
    """Changing the targets of one complex (even to favour the other variant) changes
    nothing predicted for that complex: neither the variant choice nor the fit saw it."""
    rng = np.random.default_rng(5)
    score, y, groups = _data(6, n_groups=6)
    variants = {"a": score, "b": score + rng.normal(0, 2.0, len(y))}
    base = select_variant(variants, y, groups)
    for g in sorted(set(groups)):
        moved = y.copy()
        rows = groups == g
        moved[rows] = variants["b"][rows] * 5 + 3  # this complex alone would now favour b
        other = select_variant(variants, moved, groups)
        np.testing.assert_allclose(other.predicted[rows], base.predicted[rows], atol=1e-12)


def test_variant_figures_loco_equals_a_plain_leave_one_group_out_polyfit():
    from rankbind.energies.variants import evaluate_variants

    score, y, groups = _data(7, n_groups=5)
    out = evaluate_variants({"s": score}, y, groups, threshold=0.0, n_bootstrap=200)
    manual = np.empty_like(y)
    for g in set(groups):
        test = groups == g
        a, b = np.polyfit(score[~test], y[~test], 1)
        manual[test] = a * score[test] + b
    loco = out["by_variant"]["s"]["loco_calibrated"]
    assert loco["figures"]["pearson"]["value"] == pytest.approx(stats.pearsonr(manual, y)[0])
    assert loco["figures"]["rmse"]["value"] == pytest.approx(np.sqrt(np.mean((manual - y) ** 2)))
    raw = out["by_variant"]["s"]["raw"]
    lo, hi = raw["hotspots_ci95"]["roc_auc"]
    assert lo <= raw["hotspots"]["roc_auc"] <= hi
    assert out["nested_selection"]["final_choice"] == "s"
