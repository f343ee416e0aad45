"""Statistical inefficiency and decorrelation of a time series (Chodera et al., J. Chem.
Theory Comput. 3, 26 (2007)); the estimator of pymbar.timeseries, vectorised."""

from __future__ import annotations

import numpy as np

from rankbind.errors import RankbindError


def statistical_inefficiency(a_n, mintime: int = 3) -> float:
    """g = 1 + 2 sum_t C(t) (1 - t/N) (>= 1) of the series a_n (N,), summing the normalised
    autocorrelation C(t) until it first drops to <= 0 after ``mintime`` lags."""
    a = np.asarray(a_n, dtype=np.float64)
    n = a.size
    d = a - a.mean()
    var = np.mean(d * d)
    if n < 2 or var == 0.0:
        raise RankbindError(
            f"statistical inefficiency needs a varying series; got N={n}, var={var}"
        )
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(d, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[:n]
    t = np.arange(1, n - 1)
    c = acf[1 : n - 1] / ((n - t) * var)
    stop = np.flatnonzero((c <= 0.0) & (t > mintime))
    last = stop[0] if stop.size else t.size
    g = 1.0 + 2.0 * np.sum(c[:last] * (1.0 - t[:last] / n))
    return float(max(g, 1.0))


def decorrelated_indices(n: int, g: float) -> np.ndarray:
    """Indices of roughly independent samples, one every g steps (as pymbar's
    subsample_correlated_data)."""
    idx = np.unique(np.round(np.arange(0.0, n, g)).astype(int))
    return idx[idx < n]
