"""Separation PMF and standard binding free energy against a closed-form 3D case.

A point 'receptor' moves in 3D around a fixed 'RANKL' in an isotropic well
U(r) = k r²/2 for r < R and U = k R²/2 (flat bulk) beyond. Its standard binding free energy
(site r < R) is dG° = -ln[ 4π ∫_0^R r² exp(-(U(r) - U_bulk)) dr / V° ] (kT), in closed form with
erf. Umbrella windows along r are sampled exactly (inverse CDF of r² exp(-U - bias) on a fine
grid), no MD, so the test exercises the estimator chain MBAR -> populations -> dG°.
"""

from __future__ import annotations

from math import erf, exp, pi, sqrt

import numpy as np
import pytest

from rankbind.freeenergy.mbar import MBAR
from rankbind.freeenergy.pmf import (
    STANDARD_VOLUME_NM3,
    PMFError,
    _angle_integral,
    binding_free_energy,
    kT_kJ,
    separation_pmf,
)

T = 300.0
K_WELL = 800.0  # kT / nm²
R_SITE = 0.2  # nm
U_BULK = 0.5 * K_WELL * R_SITE**2  # 16 kT
CENTRES = np.arange(0.0, 1.2001, 0.05)
KAPPA = 1000.0  # kT / nm²
SAMPLES = 800


def well(r):
    return np.where(r < R_SITE, 0.5 * K_WELL * r**2, U_BULK)


def exact_dG_kT() -> float:
    a = K_WELL / 2
    radial = sqrt(pi) / (4 * a**1.5) * erf(sqrt(a) * R_SITE) - R_SITE * exp(-a * R_SITE**2) / (
        2 * a
    )
    return -np.log(4 * pi * exp(U_BULK) * radial / STANDARD_VOLUME_NM3)


@pytest.fixture(scope="module")
def umbrella():
    rng = np.random.default_rng(2024)
    grid = np.linspace(0.0, 1.6, 400001)
    samples = []
    for c in CENTRES:
        with np.errstate(divide="ignore"):
            log_p = 2 * np.log(grid) - well(grid) - 0.5 * KAPPA * (grid - c) ** 2
        cdf = np.cumsum(np.exp(log_p - log_p.max()))
        samples.append(np.interp(rng.random(SAMPLES), cdf / cdf[-1], grid))
    r = np.concatenate(samples)
    u_kn = 0.5 * KAPPA * (r[None, :] - CENTRES[:, None]) ** 2
    return r, MBAR(u_kn, np.full(CENTRES.size, SAMPLES))


def test_binding_free_energy_matches_closed_form(umbrella):
    r, mbar = umbrella
    res = binding_free_energy(
        mbar, np.zeros_like(r), r, site_max_nm=R_SITE, bulk_shell_nm=(1.0, 1.1), temperature_K=T
    )
    assert 0.05 < res.error_kT < 0.6
    assert abs(res.dG_kT - exact_dG_kT()) < 4 * res.error_kT
    kj, kj_err = res.dG_kJ_per_mol
    assert kj == pytest.approx(res.dG_kT * kT_kJ(T)) and kj_err == pytest.approx(
        res.error_kT * kT_kJ(T)
    )
    assert res.dG_kcal_per_mol[0] == pytest.approx(kj / 4.184)
    d = res.to_dict()
    assert d["terms"]["bulk_orientation"]["value_kT"] == 0.0
    assert d["terms"]["site_restraints"]["source"].startswith("zero")


def test_pmf_matches_bin_averaged_well(umbrella):
    r, mbar = umbrella
    edges = np.linspace(0.0, 1.15, 24)
    pmf = separation_pmf(mbar, np.zeros_like(r), r, edges)
    fine = [np.linspace(lo, hi, 2001) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    exact = np.array(
        [-np.log(np.trapezoid(x**2 * np.exp(-well(x)), x) / np.trapezoid(x**2, x)) for x in fine]
    )
    exact -= exact[-1]
    z = (pmf["pmf_kT"] - exact)[:-1] / pmf["error_kT"][:-1]
    assert np.all(np.abs(z) < 4), z
    assert pmf["error_kT"][-1] == 0.0 and pmf["counts"].sum() <= r.size
    with pytest.raises(PMFError, match="no samples"):
        separation_pmf(mbar, np.zeros_like(r), r, [0.0, 0.1, 5.0, 6.0])


def test_restraint_terms_enter_with_the_right_sign(umbrella):
    """The well is isotropic, so switching Boresch angle restraints on costs the same in the
    site as in bulk, analytically: polar -ln(Omega_A / 4π), orientation -ln(∫.../8π²). With
    those supplied as the site-release term, dG° must equal the unrestrained answer."""
    r, mbar = umbrella
    kt = kT_kJ(T)
    angles = {
        "thetaA": (1.2, 40.0),
        "phiA": (0.5, 30.0),
        "thetaB": (2.0, 25.0),
        "phiB": (-2.5, 20.0),
        "phiC": (3.0, 35.0),
    }
    polar = -np.log(
        _angle_integral("thetaA", angles["thetaA"], kt)
        * _angle_integral("phiA", angles["phiA"], kt)
        / (4 * pi)
    )
    orient = -np.log(
        np.prod([_angle_integral(n, angles[n], kt) for n in ("thetaB", "phiB", "phiC")])
        / (8 * pi**2)
    )
    assert polar > 1.0 and orient > 1.0
    plain = binding_free_energy(
        mbar, np.zeros_like(r), r, site_max_nm=R_SITE, bulk_shell_nm=(1.0, 1.1), temperature_K=T
    )
    restrained = binding_free_energy(
        mbar,
        np.zeros_like(r),
        r,
        site_max_nm=R_SITE,
        bulk_shell_nm=(1.0, 1.1),
        temperature_K=T,
        angle_restraints=angles,
        rmsd_restraint=True,
        site_release=((polar + orient) * kt + 3.0, 0.1),
        bulk_conformation=(3.0, 0.1),
    )
    assert restrained.dG_kT == pytest.approx(plain.dG_kT, abs=1e-9)
    assert restrained.terms["bulk_orientation"].value_kT == pytest.approx(orient)
    assert restrained.error_kT == pytest.approx(sqrt(plain.error_kT**2 + 2 * (0.1 / kt) ** 2))
    with pytest.raises(PMFError, match="site_release"):
        binding_free_energy(
            mbar,
            np.zeros_like(r),
            r,
            site_max_nm=R_SITE,
            bulk_shell_nm=(1.0, 1.1),
            temperature_K=T,
            angle_restraints={"thetaA": (1.0, 10.0)},
        )


def test_stiff_angle_integrals_reach_the_gaussian_limit():
    kt = kT_kJ(T)
    k = 2000.0 * kt  # 2000 kT/rad²
    width = sqrt(2 * pi / 2000.0)
    assert _angle_integral("thetaB", (1.1, k), kt) == pytest.approx(np.sin(1.1) * width, rel=1e-3)
    assert _angle_integral("phiC", (3.1, k), kt) == pytest.approx(width, rel=1e-6)
    assert _angle_integral("phiC", None, kt) == 2 * pi
    assert _angle_integral("thetaA", (1.0, 0.0), kt) == pytest.approx(2.0, rel=1e-8)


def test_bad_shell_is_reported(umbrella):
    r, mbar = umbrella
    with pytest.raises(PMFError, match="bulk shell"):
        binding_free_energy(
            mbar, np.zeros_like(r), r, site_max_nm=0.5, bulk_shell_nm=(0.3, 0.4), temperature_K=T
        )
    with pytest.raises(PMFError, match="largest sampled"):
        binding_free_energy(
            mbar, np.zeros_like(r), r, site_max_nm=0.2, bulk_shell_nm=(1.5, 3.0), temperature_K=T
        )


def test_pmf_and_errors_match_pymbar_fes_histogram(umbrella):
    """Bin free energies and their asymptotic errors equal pymbar.FES (histogram) once the
    shell-volume Jacobian our PMF removes is put back."""
    import logging

    pymbar = pytest.importorskip("pymbar")
    logging.getLogger("pymbar").setLevel(logging.ERROR)
    r, mbar = umbrella
    u_kn = 0.5 * KAPPA * (r[None, :] - CENTRES[:, None]) ** 2
    edges = np.linspace(0.0, 1.25, 26)
    ours = separation_pmf(mbar, np.zeros_like(r), r, edges)
    fes = pymbar.FES(u_kn, np.full(CENTRES.size, SAMPLES))
    fes.generate_fes(
        np.zeros_like(r), r, fes_type="histogram", histogram_parameters={"bin_edges": edges}
    )
    centres = 0.5 * (edges[1:] + edges[:-1])
    ref = fes.get_fes(
        centres,
        reference_point="from-specified",
        fes_reference=centres[-1],
        uncertainty_method="analytical",
    )
    shell = (edges[1:] ** 3 - edges[:-1] ** 3) / 3.0
    np.testing.assert_allclose(ours["pmf_kT"] - np.log(shell / shell[-1]), ref["f_i"], atol=1e-6)
    np.testing.assert_allclose(ours["error_kT"], ref["df_i"], rtol=1e-6, atol=1e-9)
