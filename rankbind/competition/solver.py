"""Mass-action equilibrium of an enumerated network, solved in JAX (float64).

Unknowns are the logs of the free component concentrations ``u`` (shape (C,)).
Species concentrations are ``c = exp(log_beta + stoich @ u)`` (shape (S,)) and the
conservation laws are ``stoich.T @ c = totals``. These are the stationarity
conditions of the strictly convex potential ``G(u) = sum(c) - totals @ u``, so a
damped Newton method on ``G`` (Hessian ``stoich.T diag(c) stoich``) converges from
any start. A few positive-continued-fraction sweeps give the starting point.

Derivatives use the implicit function theorem (``jax.lax.custom_root``): the
sensitivity of ``u`` to ``log_beta`` and ``totals`` comes from one linear solve with
the converged Jacobian, not from differentiating the iterations.

All concentrations here are in one arbitrary unit chosen by the caller (the model
uses nM); ``log_beta`` must use the same unit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import rankbind.jaxconfig  # noqa: F401  (float64)

MAX_NEWTON = 200
MAX_BACKTRACK = 60
RTOL = 1e-13


def _species(u, stoich, log_beta):
    return jnp.exp(log_beta + stoich @ u)


def relative_residual(u, stoich, log_beta, totals):
    """(C,) conservation error ``(stoich.T @ c - totals) / totals``."""
    return (stoich.T @ _species(u, stoich, log_beta) - totals) / totals


def _newton(u0, stoich, log_beta, totals):
    def potential(u):
        return jnp.sum(_species(u, stoich, log_beta)) - totals @ u

    def step(state):
        u, k, _ = state
        c = _species(u, stoich, log_beta)
        grad = stoich.T @ c - totals
        hess = (stoich.T * c) @ stoich
        # symmetric diagonal scaling keeps the solve well conditioned
        d = 1.0 / jnp.sqrt(jnp.diag(hess))
        delta = -d * jnp.linalg.solve(hess * d[:, None] * d[None, :], d * grad)
        g0 = potential(u)
        slope = grad @ delta
        norm0 = jnp.max(jnp.abs(grad / totals))

        def shrink(carry):
            t, _ = carry
            return t * 0.5, carry[1] + 1

        def not_ok(carry):
            t, n = carry
            trial = u + t * delta
            g = potential(trial)
            armijo = g <= g0 + 1e-4 * t * slope
            better = jnp.max(jnp.abs(relative_residual(trial, stoich, log_beta, totals))) < norm0
            return (~(armijo | better) | ~jnp.isfinite(g)) & (n < MAX_BACKTRACK)

        t, _ = jax.lax.while_loop(not_ok, shrink, (jnp.asarray(1.0), 0))
        u_new = u + t * delta
        res = jnp.max(jnp.abs(relative_residual(u_new, stoich, log_beta, totals)))
        return u_new, k + 1, res

    def keep_going(state):
        _, k, res = state
        return (res > RTOL) & (k < MAX_NEWTON)

    res0 = jnp.max(jnp.abs(relative_residual(u0, stoich, log_beta, totals)))
    u, _, _ = jax.lax.while_loop(keep_going, step, (u0, 0, res0))
    return u


def _start(stoich, log_beta, totals, sweeps: int = 30):
    """Positive continued fraction: scale each free concentration by
    (total / current total) ** (1 / max stoichiometry)."""
    power = 1.0 / jnp.max(stoich, axis=0)
    u = jnp.log(totals)

    def sweep(_, u):
        current = stoich.T @ _species(u, stoich, log_beta)
        return u + power * (jnp.log(totals) - jnp.log(current))

    return jax.lax.fori_loop(0, sweeps, sweep, u)


@jax.jit
def solve_log_free(stoich, log_beta, totals):
    """Log free component concentrations (C,) at equilibrium.

    stoich (S, C) float, log_beta (S,), totals (C,) > 0, same concentration unit.
    Differentiable in ``log_beta`` and ``totals`` by the implicit function theorem.
    """
    stoich = jnp.asarray(stoich, dtype=jnp.float64)

    def residual(u):
        return relative_residual(u, stoich, log_beta, totals)

    def solve(_, u0):
        return _newton(jax.lax.stop_gradient(u0), stoich, log_beta, totals)

    def tangent_solve(g, y):
        return jnp.linalg.solve(jax.jacobian(g)(y), y)

    u0 = jax.lax.stop_gradient(_start(stoich, log_beta, totals))
    return jax.lax.custom_root(residual, u0, solve, tangent_solve)
