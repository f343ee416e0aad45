"""Statistical inefficiency against pymbar.timeseries and the AR(1) closed form."""

from __future__ import annotations

import numpy as np
import pytest

from rankbind.errors import RankbindError
from rankbind.freeenergy.timeseries import decorrelated_indices, statistical_inefficiency

timeseries = pytest.importorskip("pymbar.timeseries")


def ar1(phi: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.empty(n)
    x[0] = rng.normal()
    noise = rng.normal(size=n) * np.sqrt(1 - phi**2)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + noise[i]
    return x


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_matches_pymbar_and_ar1_closed_form(phi):
    x = ar1(phi, 20000, seed=4)
    g = statistical_inefficiency(x)
    assert g == pytest.approx(timeseries.statistical_inefficiency(x), rel=1e-9)
    assert g == pytest.approx((1 + phi) / (1 - phi), rel=0.15)


def test_decorrelated_indices_match_pymbar():
    x = ar1(0.8, 3000, seed=2)
    g = statistical_inefficiency(x)
    np.testing.assert_array_equal(
        decorrelated_indices(x.size, g), timeseries.subsample_correlated_data(x, g=g)
    )
    with pytest.raises(RankbindError, match="varying"):
        statistical_inefficiency(np.ones(10))
