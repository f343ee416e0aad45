"""The multistate Bennett acceptance ratio (MBAR) estimator in JAX, float64.

Shirts & Chodera, J. Chem. Phys. 129, 124105 (2008). The interface follows pymbar 4
(``MBAR(u_kn, N_k)``, ``.f_k``, ``compute_free_energy_differences``,
``compute_expectations``) and is tested against it.

Conventions (as pymbar): ``u_kn[k, n]`` is the reduced potential (dimensionless, in kT) of
sample ``n`` evaluated in state ``k``; samples are ordered by the state that generated them
(the first ``N_k[0]`` columns come from state 0, ...). States with ``N_k[k] == 0`` are allowed:
they take no part in the self-consistent solution but get free energies and weights.

Numerical core (jit-compiled): a few self-consistent iterations, then Newton's method with a
backtracking line search on the convex MBAR objective

    F(f) = sum_n logsumexp_k(ln N_k + f_k - u_kn) - sum_k N_k f_k,

with gauge f_0 = 0. Uncertainties: the asymptotic covariance Theta of the ln c_k from the
normalised weight matrix W (N x K) via the eigendecomposition of W^T W and a pseudo-inverse
(Shirts & Chodera 2008 Appendix D, pymbar's ``svd-ew``), or bootstrap over samples within each
state.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from rankbind import jaxconfig  # noqa: F401  (float64 JAX)
from rankbind.errors import RankbindError

import jax  # noqa: E402  isort: skip
import jax.numpy as jnp  # noqa: E402  isort: skip
from jax.scipy.special import logsumexp  # noqa: E402  isort: skip


class MBARError(RankbindError):
    """MBAR input is inconsistent (shapes, counts) or the solver did not converge."""


# ---------------------------------------------------------------- numerical core (jit)


def _log_denominator(u_kn, log_N_k, f_k):
    """ln sum_k N_k exp(f_k - u_kn), shape (N,)."""
    return logsumexp(f_k[:, None] - u_kn + log_N_k[:, None], axis=0)


def _objective(u_kn, N_k, log_N_k, f_k):
    return jnp.sum(_log_denominator(u_kn, log_N_k, f_k)) - jnp.dot(N_k, f_k)


def _gradient_hessian(u_kn, N_k, log_N_k, f_k):
    """Objective, gradient (K,) and Hessian (K, K) of the MBAR objective."""
    log_d = _log_denominator(u_kn, log_N_k, f_k)
    nw = jnp.exp(f_k[:, None] - u_kn + log_N_k[:, None] - log_d[None, :])  # (K, N)
    s = nw.sum(axis=1)
    objective = jnp.sum(log_d) - jnp.dot(N_k, f_k)
    return objective, s - N_k, jnp.diag(s) - nw @ nw.T


def _self_consistent(u_kn, log_N_k, f_k):
    log_d = _log_denominator(u_kn, log_N_k, f_k)
    f_new = -logsumexp(-u_kn - log_d[None, :], axis=1)
    return f_new - f_new[0]


@partial(jax.jit, static_argnames=("n_self_consistent", "max_iter"))
def _solve(u_kn, N_k, f_init, tol, n_self_consistent=10, max_iter=100):
    """Free energies (K,) with f_0 = 0 for states that all have samples; returns
    (f_k, number of Newton iterations, max |gradient| / N_k at the end)."""
    log_N_k = jnp.log(N_k)
    f = jax.lax.fori_loop(
        0, n_self_consistent, lambda _, f: _self_consistent(u_kn, log_N_k, f), f_init - f_init[0]
    )

    def newton_step(state):
        f, it, _ = state
        f0, g, h = _gradient_hessian(u_kn, N_k, log_N_k, f)
        step = jnp.linalg.solve(h[1:, 1:], -g[1:])
        step = jnp.concatenate([jnp.zeros(1), step])
        slope = jnp.dot(g, step)

        def shrink(ls):
            alpha, _ = ls
            alpha = alpha * 0.5
            return alpha, _objective(u_kn, N_k, log_N_k, f + alpha * step)

        def too_high(ls):
            alpha, value = ls
            return (value > f0 + 1e-4 * alpha * slope + 1e-12 * jnp.abs(f0)) & (alpha > 1e-10)

        alpha, _ = jax.lax.while_loop(
            too_high, shrink, (1.0, _objective(u_kn, N_k, log_N_k, f + step))
        )
        f_new = f + alpha * step
        return f_new, it + 1, jnp.max(jnp.abs(alpha * step))

    def not_converged(state):
        _, it, delta = state
        return (delta > tol) & (it < max_iter)

    f, it, _ = jax.lax.while_loop(not_converged, newton_step, (f, 0, jnp.inf))
    log_d = _log_denominator(u_kn, log_N_k, f)
    g = jnp.exp(f[:, None] - u_kn + log_N_k[:, None] - log_d[None, :]).sum(axis=1) - N_k
    return f, it, jnp.max(jnp.abs(g) / N_k)


@jax.jit
def _log_weights(u_kn, log_N_sampled, f_sampled, u_sampled):
    """Normalised log weights ln W_nk (N, K) and free energies f_k (K,) for all rows of
    ``u_kn`` given the solution (``f_sampled``) over the sampled states ``u_sampled``."""
    log_d = _log_denominator(u_sampled, log_N_sampled, f_sampled)
    f_k = -logsumexp(-u_kn - log_d[None, :], axis=1)
    return (f_k[:, None] - u_kn - log_d[None, :]).T, f_k


@jax.jit
def _asymptotic_covariance(log_w_nk, N_k):
    """Theta (K, K): asymptotic covariance of ln c_k from normalised weights (pymbar svd-ew)."""
    w = jnp.exp(log_w_nk)
    s2, v = jnp.linalg.eigh(w.T @ w)
    sigma = jnp.diag(jnp.sqrt(jnp.clip(s2, 0.0)))
    eye = jnp.eye(N_k.shape[0])
    inner = _symmetric_pinv(eye - sigma @ v.T @ jnp.diag(N_k) @ v @ sigma, 1e-10)
    return v @ sigma @ inner @ sigma @ v.T


def _symmetric_pinv(a, rtol):
    """Moore-Penrose pseudo-inverse of a symmetric matrix via its eigendecomposition
    (singular values are |eigenvalues|; those below rtol * max are dropped, as
    numpy.linalg.pinv(rcond=rtol) which pymbar uses)."""
    lam, q = jnp.linalg.eigh(0.5 * (a + a.T))
    keep = jnp.abs(lam) > rtol * jnp.max(jnp.abs(lam))
    inv = jnp.where(keep, 1.0 / jnp.where(keep, lam, 1.0), 0.0)
    return (q * inv[None, :]) @ q.T


def _differences_error(theta: np.ndarray) -> np.ndarray:
    """sqrt(Theta_ii + Theta_jj - 2 Theta_ij), (K, K); tiny negative round-off clipped to 0."""
    d = np.diag(theta)
    d2 = d[:, None] + d[None, :] - 2.0 * theta
    return np.sqrt(np.clip(d2, 0.0, None))


# ---------------------------------------------------------------- public class


class MBAR:
    """MBAR estimate over ``K`` thermodynamic states.

    u_kn: (K, N) reduced potentials (kT) of every sample in every state.
    N_k: (K,) samples drawn from each state (ordered by state along n); zeros allowed.
    tol: convergence threshold on the largest Newton step in f (kT).
    n_bootstraps: if > 0, that many bootstrap solutions (resampling within each state, seeded
    by ``seed``) are computed for ``uncertainty_method="bootstrap"``.

    After construction ``f_k`` (K,) holds the dimensionless free energies with ``f_k[0] = 0``
    and ``log_W_nk`` (N, K) the normalised log weights (each column sums to 1 in linear space).
    """

    def __init__(
        self,
        u_kn,
        N_k,
        *,
        tol: float = 1e-12,
        max_iter: int = 100,
        n_bootstraps: int = 0,
        seed: int = 0,
    ) -> None:
        u_kn = np.asarray(u_kn, dtype=np.float64)
        N_k = np.asarray(N_k)
        if u_kn.ndim != 2:
            raise MBARError(f"u_kn must be 2-D (K, N); got shape {u_kn.shape}")
        if N_k.ndim != 1 or N_k.shape[0] != u_kn.shape[0]:
            raise MBARError(f"N_k must have shape ({u_kn.shape[0]},); got {N_k.shape}")
        if np.any(N_k < 0) or not np.all(N_k == np.round(N_k)):
            raise MBARError(f"N_k must be non-negative integers; got {N_k.tolist()}")
        if int(N_k.sum()) != u_kn.shape[1]:
            raise MBARError(f"sum(N_k) = {int(N_k.sum())} but u_kn has {u_kn.shape[1]} samples")
        if not np.all(np.isfinite(u_kn)):
            bad = np.argwhere(~np.isfinite(u_kn))[0]
            raise MBARError(f"u_kn has a non-finite entry at (k={bad[0]}, n={bad[1]})")
        self.u_kn = u_kn
        self.N_k = N_k.astype(np.int64)
        self.K, self.N = u_kn.shape
        self._sampled = np.flatnonzero(self.N_k > 0)
        if self._sampled.size == 0:
            raise MBARError("no state has samples")
        self.f_k, self.log_W_nk, self.n_iter = self._fit(self.u_kn, tol, max_iter)
        self.n_bootstraps = int(n_bootstraps)
        self.f_k_bootstraps = np.zeros((0, self.K))
        if self.n_bootstraps > 0:
            rng = np.random.default_rng(seed)
            starts = np.concatenate([[0], np.cumsum(self.N_k)[:-1]])
            boots = []
            for _ in range(self.n_bootstraps):
                idx = np.concatenate(
                    [
                        s + rng.integers(0, n, n)
                        for s, n in zip(starts, self.N_k, strict=True)
                        if n > 0
                    ]
                )
                boots.append(self._fit(self.u_kn[:, idx], tol, max_iter, self.f_k)[0])
            self.f_k_bootstraps = np.array(boots)

    def _fit(self, u_kn, tol, max_iter, f_init=None):
        s = self._sampled
        n_s = jnp.asarray(self.N_k[s], dtype=jnp.float64)
        u_s = jnp.asarray(u_kn[s])
        f0 = jnp.zeros(s.size) if f_init is None else jnp.asarray(f_init[s])
        f_s, n_iter, gnorm = _solve(u_s, n_s, f0, tol, max_iter=max_iter)
        if not np.isfinite(float(gnorm)) or float(gnorm) > 1e-6:
            raise MBARError(
                f"MBAR did not converge: relative gradient {float(gnorm):.3g} after "
                f"{int(n_iter)} Newton iterations"
            )
        log_w, f_k = _log_weights(jnp.asarray(u_kn), jnp.log(n_s), f_s, u_s)
        f_k = np.asarray(f_k)
        return f_k - f_k[0], np.asarray(log_w), int(n_iter)

    # ------------------------------------------------------------ estimators

    def compute_free_energy_differences(
        self, compute_uncertainty: bool = True, uncertainty_method: str = "analytical"
    ) -> dict[str, np.ndarray]:
        """Delta_f[i, j] = f_j - f_i (K, K) in kT and its standard error dDelta_f (K, K).

        uncertainty_method: "analytical" (asymptotic covariance) or "bootstrap" (standard
        deviation over the bootstrap solutions; needs ``n_bootstraps > 0``)."""
        out = {"Delta_f": self.f_k[None, :] - self.f_k[:, None]}
        if not compute_uncertainty:
            return out
        if uncertainty_method == "analytical":
            out["dDelta_f"] = _differences_error(self.compute_covariance())
        elif uncertainty_method == "bootstrap":
            if self.n_bootstraps <= 0:
                raise MBARError("bootstrap uncertainties need MBAR(..., n_bootstraps > 0)")
            b = self.f_k_bootstraps
            out["dDelta_f"] = np.std(b[:, None, :] - b[:, :, None], axis=0, ddof=1)
        else:
            raise MBARError(f"unknown uncertainty_method '{uncertainty_method}'")
        return out

    def compute_covariance(self) -> np.ndarray:
        """Theta (K, K): asymptotic covariance of the dimensionless free energies."""
        return np.asarray(
            _asymptotic_covariance(jnp.asarray(self.log_W_nk), jnp.asarray(self.N_k, float))
        )

    def _augmented(self, extra_log_w: np.ndarray) -> np.ndarray:
        """Theta over the K states plus extra unsampled 'states' given by normalised log
        weights (N, M); returns the (K + M, K + M) covariance."""
        log_w = np.concatenate([self.log_W_nk, extra_log_w], axis=1)
        n_k = np.concatenate([self.N_k, np.zeros(extra_log_w.shape[1])]).astype(float)
        return np.asarray(_asymptotic_covariance(jnp.asarray(log_w), jnp.asarray(n_k)))

    def _target_log_weights(self, u_ln) -> tuple[np.ndarray, np.ndarray]:
        """Normalised log weights (N, L) and free energies (L,) (same gauge as f_k) of new
        states whose reduced potentials at every sample are u_ln (L, N)."""
        u_ln = np.atleast_2d(np.asarray(u_ln, dtype=np.float64))
        if u_ln.shape[1] != self.N:
            raise MBARError(f"target reduced potentials need {self.N} samples; got {u_ln.shape}")
        s = self._sampled
        n_s = jnp.asarray(self.N_k[s], dtype=jnp.float64)
        f_full = jnp.asarray(self.f_k[s])
        log_w, f_l = _log_weights(
            jnp.asarray(u_ln), jnp.log(n_s), f_full, jnp.asarray(self.u_kn[s])
        )
        return np.asarray(log_w), np.asarray(f_l)

    def compute_perturbed_free_energies(self, u_ln) -> dict[str, np.ndarray]:
        """Free energy differences among new states u_ln (L, N): Delta_f (L, L), dDelta_f."""
        log_w, f_l = self._target_log_weights(u_ln)
        theta = self._augmented(log_w)[self.K :, self.K :]
        return {"Delta_f": f_l[None, :] - f_l[:, None], "dDelta_f": _differences_error(theta)}

    def compute_expectations(
        self, A_n, u_kn=None, compute_uncertainty: bool = True
    ) -> dict[str, np.ndarray]:
        """<A> in each state of ``u_kn`` (default: the K sampled states), as pymbar's
        ``compute_expectations(A_n, u_kn, output='averages')``.

        A_n: (N,) observable at every sample. Returns mu (L,) and sigma (L,) (asymptotic)."""
        A_n = np.asarray(A_n, dtype=np.float64)
        if A_n.shape != (self.N,):
            raise MBARError(f"A_n must have shape ({self.N},); got {A_n.shape}")
        u_ln = self.u_kn if u_kn is None else u_kn
        log_w, _ = self._target_log_weights(u_ln)
        # shift A to positive values to work with logarithms (as pymbar)
        shift = np.min(A_n) - abs(4.0 * np.finfo(np.float64).eps * np.min(A_n))
        with np.errstate(divide="ignore"):
            log_a = np.log(A_n - shift)
        log_wa = log_a[:, None] + log_w
        log_mean = _logsumexp_np(log_wa, axis=0)  # ln <A - shift>_l
        out = {"mu": np.exp(log_mean) + shift}
        if compute_uncertainty:
            L = log_w.shape[1]
            theta = self._augmented(np.concatenate([log_w, log_wa - log_mean[None, :]], axis=1))
            ll, aa = self.K + np.arange(L), self.K + L + np.arange(L)
            var_log = theta[aa, aa] + theta[ll, ll] - 2.0 * theta[aa, ll]
            out["sigma"] = np.exp(log_mean) * np.sqrt(np.clip(var_log, 0.0, None))
        return out

    def compute_region_free_energies(self, u_n, masks) -> dict[str, np.ndarray]:
        """-ln P(region) in the state with reduced potentials ``u_n`` (N,), for each boolean
        region mask in ``masks`` (M, N), with their asymptotic covariance.

        Returns f (M,) = -ln P_m and theta (M, M) = Cov(f_m, f_m'). Used for PMF bins and the
        bound-site population. Raises MBARError for a region no sample falls into."""
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        if masks.shape[1] != self.N:
            raise MBARError(f"region masks need {self.N} samples; got shape {masks.shape}")
        empty = np.flatnonzero(~masks.any(axis=1))
        if empty.size:
            raise MBARError(f"region(s) {empty.tolist()} contain no samples")
        log_w, _ = self._target_log_weights(np.asarray(u_n)[None, :])
        with np.errstate(divide="ignore"):
            log_wm = np.log(masks.T.astype(float)) + log_w  # (N, M)
        log_p = _logsumexp_np(log_wm, axis=0)
        theta = self._augmented(np.concatenate([log_w, log_wm - log_p[None, :]], axis=1))
        t, m = self.K, self.K + 1 + np.arange(masks.shape[0])
        cov = theta[np.ix_(m, m)] - theta[m, t][:, None] - theta[t, m][None, :] + theta[t, t]
        return {"f": -log_p, "theta": cov}


def _logsumexp_np(a: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis)
