"""JAX MBAR against pymbar 4 on the same data and against analytic harmonic-oscillator free
energies (f_k = -ln sqrt(2 pi / K_k), beta = 1)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from rankbind.freeenergy.mbar import MBAR, MBARError

pymbar = pytest.importorskip("pymbar")
logging.getLogger("pymbar").setLevel(logging.ERROR)

# spring constants (kT / length^2), centres, samples per state (state 1 has none)
SPRING = np.array([1.0, 2.0, 4.0, 8.0, 3.0])
CENTRE = np.array([0.0, 0.5, 1.0, 1.5, 0.2])
COUNTS = np.array([800, 0, 600, 700, 500])


def oscillators(seed: int, counts=COUNTS):
    """Exact samples x (N,) from each harmonic state and u_kn (K, N)."""
    rng = np.random.default_rng(seed)
    x = np.concatenate(
        [rng.normal(c, 1.0 / np.sqrt(k), n) for k, c, n in zip(SPRING, CENTRE, counts, strict=True)]
    )
    return x, 0.5 * SPRING[:, None] * (x[None, :] - CENTRE[:, None]) ** 2


def analytic_f():
    f = -np.log(np.sqrt(2.0 * np.pi / SPRING))
    return f - f[0]


@pytest.fixture(scope="module")
def fitted():
    x, u = oscillators(seed=11)
    return x, u, MBAR(u, COUNTS), pymbar.MBAR(u, COUNTS, relative_tolerance=1e-12)


def test_free_energies_and_uncertainties_match_pymbar(fitted):
    _, _, ours, ref = fitted
    a, b = ours.compute_free_energy_differences(), ref.compute_free_energy_differences()
    np.testing.assert_allclose(ours.f_k, ref.f_k, atol=1e-6, rtol=0)
    np.testing.assert_allclose(a["Delta_f"], b["Delta_f"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(a["dDelta_f"], b["dDelta_f"], atol=1e-8, rtol=1e-6)
    assert a["dDelta_f"][0, 1] > 0.01  # the unsampled state has a real uncertainty
    np.testing.assert_allclose(np.exp(ours.log_W_nk).sum(axis=0), 1.0, atol=1e-10)


def test_expectations_and_perturbed_states_match_pymbar(fitted):
    x, u, ours, ref = fitted
    for a_n, u_ln in [(x, None), (x**2, u[:2])]:
        a = ours.compute_expectations(a_n, u_ln)
        b = ref.compute_expectations(a_n, u_ln)
        np.testing.assert_allclose(a["mu"], b["mu"], atol=1e-9, rtol=1e-9)
        np.testing.assert_allclose(a["sigma"], b["sigma"], atol=1e-10, rtol=1e-6)
    u_new = 0.5 * np.array([[0.5], [6.0]]) * x[None, :] ** 2
    a = ours.compute_perturbed_free_energies(u_new)
    b = ref.compute_perturbed_free_energies(u_new)
    np.testing.assert_allclose(a["Delta_f"], b["Delta_f"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(a["dDelta_f"], b["dDelta_f"], atol=1e-10, rtol=1e-6)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # pymbar: log(0)
def test_region_free_energy_is_minus_log_probability(fitted):
    """-ln P(region) and its error equal pymbar's expectation of the indicator."""
    x, u, ours, ref = fitted
    masks = np.array([x < 0.3, (x > 0.8) & (x < 1.2)])
    r = ours.compute_region_free_energies(u[0], masks)
    for m, mask in enumerate(masks):
        b = ref.compute_expectations(mask.astype(float), u[0])
        p = np.exp(-r["f"][m])
        np.testing.assert_allclose(p, b["mu"][0], rtol=1e-9)
        np.testing.assert_allclose(p * np.sqrt(r["theta"][m, m]), b["sigma"][0], rtol=1e-6)
    # independent check in the target state's analytic Gaussian (centre 0, variance 1)
    from math import erf, sqrt

    assert abs(np.exp(-r["f"][0]) - 0.5 * (1 + erf(0.3 / sqrt(2)))) < 4 * np.sqrt(
        r["theta"][0, 0]
    ) * np.exp(-r["f"][0])
    with pytest.raises(MBARError, match="no samples"):
        ours.compute_region_free_energies(u[0], [x > 1e6])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reproduces_analytic_oscillator_free_energies(seed):
    x, u = oscillators(seed)
    r = MBAR(u, COUNTS).compute_free_energy_differences()
    z = (r["Delta_f"][0] - analytic_f())[1:] / r["dDelta_f"][0, 1:]
    assert np.all(np.abs(z) < 4.0), z


def test_bootstrap_uncertainty_close_to_asymptotic():
    x, u = oscillators(5)
    m = MBAR(u, COUNTS, n_bootstraps=60, seed=3)
    boot = m.compute_free_energy_differences(uncertainty_method="bootstrap")["dDelta_f"][0, 1:]
    asym = m.compute_free_energy_differences()["dDelta_f"][0, 1:]
    np.testing.assert_allclose(boot, asym, rtol=0.35)


def test_bad_input_is_reported():
    x, u = oscillators(1)
    with pytest.raises(MBARError, match="sum"):
        MBAR(u, COUNTS + 1)
    with pytest.raises(MBARError, match="shape"):
        MBAR(u, COUNTS[:3])
    u_bad = u.copy()
    u_bad[2, 7] = np.nan
    with pytest.raises(MBARError, match="k=2, n=7"):
        MBAR(u_bad, COUNTS)
    with pytest.raises(MBARError, match="bootstrap"):
        MBAR(u, COUNTS).compute_free_energy_differences(uncertainty_method="bootstrap")
