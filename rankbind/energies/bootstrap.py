"""Bootstrap standard errors for per-frame estimates: iid and moving-block.

Frames from one trajectory are correlated; resampling them as if independent
underestimates the error by about √g (g = statistical inefficiency). The moving-block
bootstrap (Künsch 1989) resamples contiguous blocks of ``block_length`` frames instead.
Its variance is, for large N, the Bartlett-window long-run variance with bandwidth b, which
is biased low by about τ/b (τ the correlation time); the default block length is therefore
``5·g`` (≈ 10τ: ~5 % low in the standard error), capped so that at least 8 blocks remain.

Independent replicas (e.g. separately minimised structures) are resampled iid.
"""

from __future__ import annotations

import math

import numpy as np

from rankbind.errors import RankbindError
from rankbind.freeenergy.timeseries import statistical_inefficiency

BLOCK_FACTOR = 5.0  # block length = BLOCK_FACTOR × statistical inefficiency
MIN_BLOCKS = 8


def _series(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise RankbindError("bootstrap needs a non-empty 1-D array of per-frame values")
    if not np.all(np.isfinite(values)):
        raise RankbindError("bootstrap values contain NaN or infinity")
    return values


def bootstrap_mean(
    values: np.ndarray, n_bootstrap: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """(mean, bootstrap standard error of the mean) of iid samples (F,)."""
    values = _series(values)
    if len(values) == 1:
        return float(values[0]), 0.0
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n_bootstrap, len(values)))
    return float(values.mean()), float(values[idx].mean(axis=1).std(ddof=1))


def auto_block_length(values: np.ndarray) -> int:
    """``ceil(5·g)`` frames, at most N/8 (≥ 1)."""
    values = _series(values)
    n = len(values)
    if n < 4 or np.ptp(values) == 0:
        return 1
    g = statistical_inefficiency(values)
    return int(max(1, min(math.ceil(BLOCK_FACTOR * g), n // MIN_BLOCKS)))


def block_bootstrap_mean(
    values: np.ndarray, block_length: int | None = None, n_bootstrap: int = 1000, seed: int = 0
) -> tuple[float, float, int]:
    """(mean, moving-block bootstrap standard error, block length used) of a correlated
    series (F,). ``block_length`` None or 0: :func:`auto_block_length`."""
    values = _series(values)
    n = len(values)
    if n == 1:
        return float(values[0]), 0.0, 1
    b = auto_block_length(values) if not block_length else int(block_length)
    if not 1 <= b <= n:
        raise RankbindError(f"block_length {b} outside 1..{n} frames")
    k = max(1, n // b)  # blocks per resample
    cs = np.concatenate([[0.0], np.cumsum(values)])
    block_means = (cs[b:] - cs[:-b]) / b  # all n-b+1 moving blocks
    rng = np.random.default_rng(seed)
    boot = block_means[rng.integers(0, len(block_means), size=(n_bootstrap, k))].mean(axis=1)
    # k·b frames per resample; rescale to the variance of an n-frame mean
    sem = float(boot.std(ddof=1) * math.sqrt(k * b / n))
    return float(values.mean()), sem, b


def mean_sem(
    values: np.ndarray,
    method: str = "iid",
    block_length: int | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> tuple[float, float, dict]:
    """(mean, sem, record) by ``method`` "iid" (independent replicas) or "block"
    (correlated trajectory frames)."""
    if method == "iid":
        mean, sem = bootstrap_mean(values, n_bootstrap, seed)
        return mean, sem, {"method": "iid bootstrap", "n_bootstrap": n_bootstrap}
    if method == "block":
        mean, sem, b = block_bootstrap_mean(values, block_length, n_bootstrap, seed)
        return (
            mean,
            sem,
            {
                "method": "moving-block bootstrap (Kunsch 1989)",
                "block_length_frames": b,
                "block_length_rule": "given"
                if block_length
                else f"ceil({BLOCK_FACTOR} g), <= N/{MIN_BLOCKS}",
                "n_bootstrap": n_bootstrap,
            },
        )
    raise RankbindError(f"uncertainty method '{method}' unknown; choose iid, block")
