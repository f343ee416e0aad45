"""Block bootstrap against AR(1) series, whose variance of the mean is analytic:
x_t = φ x_{t-1} + ε_t, Var ε = 1 → Var(x̄_N) = σ²/N [(1+φ)/(1-φ) - 2φ(1-φ^N)/(N(1-φ)²)],
σ² = 1/(1-φ²)."""

from __future__ import annotations

import numpy as np
import pytest

from rankbind.energies.bootstrap import block_bootstrap_mean, bootstrap_mean, mean_sem
from rankbind.errors import RankbindError


def _ar1(rng, phi, n):
    eps = rng.normal(size=n)
    x = np.empty(n)
    x[0] = eps[0] / np.sqrt(1 - phi**2)  # stationary start
    for t in range(1, n):
        x[t] = phi * x[t - 1] + eps[t]
    return x


def _var_mean(phi, n):
    s2 = 1 / (1 - phi**2)
    return s2 / n * ((1 + phi) / (1 - phi) - 2 * phi * (1 - phi**n) / (n * (1 - phi) ** 2))


@pytest.mark.parametrize("phi", [0.5, 0.9])
def test_block_bootstrap_recovers_analytic_variance_of_the_mean(phi):
    rng = np.random.default_rng(11)
    n, series = 4000, 30
    block, iid, lengths = [], [], []
    for k in range(series):
        x = _ar1(rng, phi, n)
        _, sem, b = block_bootstrap_mean(x, n_bootstrap=300, seed=k)
        block.append(sem**2)
        lengths.append(b)
        iid.append(bootstrap_mean(x, n_bootstrap=300, seed=k)[1] ** 2)
    exact = _var_mean(phi, n)
    ratio = np.sqrt(np.mean(block) / exact)
    assert 0.88 < ratio < 1.08, ratio
    # resampling correlated frames as iid is far off (by ~sqrt(g))
    g = (1 + phi) / (1 - phi)
    assert np.sqrt(np.mean(iid) / exact) == pytest.approx(1 / np.sqrt(g), rel=0.15)
    assert np.median(lengths) >= 4 * g * 0.8


def test_uncorrelated_series_and_bad_input():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    mean, sem, record = mean_sem(x, "block", n_bootstrap=500)
    assert sem == pytest.approx(1 / np.sqrt(2000), rel=0.2)
    assert record["block_length_frames"] <= 10
    with pytest.raises(RankbindError, match="uncertainty method"):
        mean_sem(x, "jackknife")
    with pytest.raises(RankbindError, match="block_length"):
        block_bootstrap_mean(x[:10], block_length=50)
