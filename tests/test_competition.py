"""Competitive-binding equilibria against analytic and independent numeric references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankbind.competition.model import (
    Affinity,
    Binder,
    CompetitionError,
    EquilibriumModel,
    LigandPool,
    System,
    concentration_from_surface_density,
    ic50,
)

SRC = "test input"


def _two_binder_system(rank, inhibitor, trimers, kd=2e-9, ki=5e-10):
    return System(
        (LigandPool("RANKL", trimers),),
        (Binder("RANK", rank, Affinity(kd, SRC)), Binder("OPG", inhibitor, Affinity(ki, SRC))),
    )


@pytest.fixture(scope="module")
def two_binder_model():
    return EquilibriumModel(_two_binder_system(10e-9, 1e-9, 1e-9))


def _bisect(f, lo, hi, n=200):
    """Root of increasing f on [lo, hi] in log space (plain Python reference)."""
    a, b = math.log(lo), math.log(hi)
    for _ in range(n):
        m = 0.5 * (a + b)
        if f(math.exp(m)) > 0:
            b = m
        else:
            a = m
    return math.exp(0.5 * (a + b))


@pytest.mark.parametrize(
    ("rank", "trimers"), [(1e-9, 1e-9), (10e-9, 0.2e-9), (0.3e-9, 5e-9), (2e-9, 2e-9 / 3)]
)
def test_single_binder_depletion_quadratic(two_binder_model, rank, trimers):
    kd = 2e-9
    system = _two_binder_system(rank, 0.0, trimers, kd=kd)
    eq = two_binder_model.solve(system)
    sites = 3 * trimers
    b = sites + rank + kd
    complex_ = (b - math.sqrt(b * b - 4 * sites * rank)) / 2
    assert eq.receptor_site_fraction[0] == pytest.approx(complex_ / sites, rel=1e-9)
    assert eq.receptor_bound_fraction == pytest.approx(complex_ / rank, rel=1e-9)


def test_binomial_trimer_statistics(two_binder_model):
    eq = two_binder_model.solve(_two_binder_system(3e-9, 2e-9, 1.5e-9))
    theta = eq.receptor_site_fraction[0]
    assert eq.signalling_fraction[0] == pytest.approx(
        3 * theta**2 * (1 - theta) + theta**3, rel=1e-9
    )


def test_cheng_prusoff_no_depletion(two_binder_model):
    kd, ki, rank = 2e-9, 5e-10, 10e-9
    system = _two_binder_system(rank, 1e-9, 1e-21, kd, ki)
    eq = two_binder_model.solve(system)
    a = rank / kd
    assert eq.receptor_site_fraction[0] == pytest.approx(a / (1 + a + 1e-9 / ki), rel=1e-9)
    x = ic50(two_binder_model, "OPG", system, output="receptor_sites")
    assert x == pytest.approx(ki * (1 + rank / kd), rel=1e-9)


def test_ic50_exact_with_depletion(two_binder_model):
    """Closed form at half-inhibition: theta_R is fixed, so the free receptor, the free
    inhibitor and the inhibitor total follow explicitly."""
    kd, ki, rank, trimers = 2e-9, 5e-10, 4e-9, 1e-9
    system = _two_binder_system(rank, 1e-9, trimers, kd, ki)
    sites = 3 * trimers
    b = sites + rank + kd
    theta0 = (b - math.sqrt(b * b - 4 * sites * rank)) / 2 / sites
    theta = theta0 / 2
    r_free = rank - sites * theta
    # theta = (r/kd) / (1 + r/kd + i/ki)  ->  i
    i_free = ki * ((r_free / kd) / theta - 1 - r_free / kd)
    theta_i = (i_free / ki) / (1 + r_free / kd + i_free / ki)
    expected = i_free + sites * theta_i
    x = ic50(two_binder_model, "OPG", system, output="receptor_sites")
    assert x == pytest.approx(expected, rel=1e-9)


def test_bivalent_bridging_one_site_ligand():
    """A one-site ligand L and a bivalent binder B (per-arm K): species L, B, BL
    (2 K x_B x_L) and L-B-L (K^2 x_B x_L^2), solved here by bisection."""
    kd, l_tot, b_tot = 1e-9, 3e-9, 2e-9
    system = System(
        (LigandPool("L", l_tot, sites=1),),
        (
            Binder("RANK", 1e-30, Affinity(1.0, SRC)),
            Binder("B", b_tot, Affinity(kd, SRC), valency=2, bridging=True),
        ),
    )
    k = 1 / kd

    def excess(x_l):
        x_b = b_tot / (1 + k * x_l) ** 2
        return x_l + 2 * k * x_b * x_l + 2 * k * k * x_b * x_l**2 - l_tot

    x_l = _bisect(excess, 1e-20, l_tot)
    eq = EquilibriumModel(system).solve()
    assert eq.free_molar["L"] == pytest.approx(x_l, rel=1e-9)
    assert eq.free_molar["B"] == pytest.approx(b_tot / (1 + k * x_l) ** 2, rel=1e-9)


def test_bivalent_loops_two_site_ligand():
    """Two-site ligand, bivalent binder with ring closure c_eff, no bridges:
    ligand states 1, 4 K x_B (one arm), 4 K^2 x_B^2 (two binders), 2 K^2 c x_B (loop)."""
    kd, c_eff, l_tot, b_tot = 1e-9, 1e-7, 2e-9, 5e-9
    system = System(
        (LigandPool("L", l_tot, sites=2),),
        (
            Binder("RANK", 1e-30, Affinity(1.0, SRC)),
            Binder(
                "B",
                b_tot,
                Affinity(kd, SRC),
                valency=2,
                c_eff_intra_molar=c_eff,
                c_eff_source="test value",
            ),
        ),
    )
    k = 1 / kd

    def free_b(x_l):
        # x_B (1 + 4 K x_L + 2 K^2 c x_L) + 8 K^2 x_L x_B^2 = B_T
        a, b = 8 * k * k * x_l, 1 + 4 * k * x_l + 2 * k * k * c_eff * x_l
        return 2 * b_tot / (b + math.sqrt(b * b + 4 * a * b_tot))

    def excess(x_l):
        x_b = free_b(x_l)
        return x_l * (1 + 4 * k * x_b + 4 * k * k * x_b**2 + 2 * k * k * c_eff * x_b) - l_tot

    x_l = _bisect(excess, 1e-25, l_tot)
    eq = EquilibriumModel(system).solve()
    assert eq.free_molar["L"] == pytest.approx(x_l, rel=1e-9)
    assert eq.free_molar["B"] == pytest.approx(free_b(x_l), rel=1e-9)


def _full_system(kds, totals):
    names = ("RANK", "OPG", "Dmab", "RANKc")
    aff = {n: Affinity(kd, SRC) for n, kd in zip(names, kds, strict=True)}
    return System(
        (LigandPool("RANKL", totals[0]), LigandPool("RANKL3", totals[1])),
        (
            Binder("RANK", totals[2], aff["RANK"]),
            Binder("OPG", totals[3], aff["OPG"], 2, 1e-6, "test value", bridging=True),
            Binder("Dmab", totals[4], aff["Dmab"], 2, 1e-6, "test value", bridging=True),
            Binder("RANKc", totals[5], aff["RANKc"]),
        ),
    )


@pytest.fixture(scope="module")
def full_model():
    return EquilibriumModel(_full_system([1e-9] * 4, [1e-9] * 6))


log_conc = st.floats(min_value=-12.0, max_value=-6.0)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kds=st.lists(log_conc, min_size=4, max_size=4),
    totals=st.lists(log_conc, min_size=6, max_size=6),
)
def test_mass_conservation_random(full_model, kds, totals):
    system = _full_system([10**x for x in kds], [10**x for x in totals])
    eq = full_model.solve(system)
    net = full_model.network
    recovered = net.stoich.T @ eq.species_molar
    expected = system.totals_molar()
    np.testing.assert_allclose(recovered, expected, rtol=1e-10, atol=0)
    assert np.all((0 <= eq.receptor_site_fraction) & (eq.receptor_site_fraction <= 1))


def test_sensitivities_match_finite_differences(full_model):
    kds = [2e-9, 5e-10, 1e-10, 3e-9]
    totals = [1e-9, 0.3e-9, 5e-9, 1e-9, 0.5e-9, 2e-9]
    system = _full_system(kds, totals)
    grads = full_model.sensitivities(system, output="signalling", pool=0)
    h = 1e-5
    for i, name in enumerate(("RANK", "OPG", "Dmab", "RANKc")):
        up = _full_system([kd * math.exp(h if j == i else 0) for j, kd in enumerate(kds)], totals)
        dn = _full_system([kd * math.exp(-h if j == i else 0) for j, kd in enumerate(kds)], totals)
        fd = (
            full_model.solve(up).signalling_fraction[0]
            - full_model.solve(dn).signalling_fraction[0]
        ) / (2 * h)
        assert grads[f"d/dlnKd:{name}"] == pytest.approx(fd, rel=1e-5, abs=1e-9)
    for i, name in enumerate(system.component_names):
        up = _full_system(kds, [t * math.exp(h if j == i else 0) for j, t in enumerate(totals)])
        dn = _full_system(kds, [t * math.exp(-h if j == i else 0) for j, t in enumerate(totals)])
        fd = (
            full_model.solve(up).signalling_fraction[0]
            - full_model.solve(dn).signalling_fraction[0]
        ) / (2 * h)
        assert grads[f"d/dlnTotal:{name}"] == pytest.approx(fd, rel=1e-5, abs=1e-9)
    assert grads["d/dlnKd:RANK"] < 0 < grads["d/dlnKd:Dmab"]


def test_affinity_from_free_energy():
    rt = 8.314462618 * 298.15 / 4184.0
    a = Affinity.from_dg(-12.0, "rankbind ABFE run", uncertainty_kcal=0.5)
    assert a.kd_molar == pytest.approx(math.exp(-12.0 / rt), rel=1e-12)
    assert a.dg_kcal == pytest.approx(-12.0, rel=1e-12)
    lo, hi = a.kd_interval()
    assert lo == pytest.approx(math.exp(-12.5 / rt), rel=1e-12)
    assert hi == pytest.approx(math.exp(-11.5 / rt), rel=1e-12)


def test_surface_density_conversion():
    # 1000 molecules/um^2 in a 10 nm layer: 1e15 m^-2 / 1e-8 m = 1e23 m^-3
    c = concentration_from_surface_density(1000.0, 10.0)
    assert c == pytest.approx(1e23 / 6.02214076e23 / 1000.0, rel=1e-12)


def test_bad_inputs_are_named():
    with pytest.raises(CompetitionError, match="kd_molar"):
        Affinity(-1.0, SRC)
    with pytest.raises(CompetitionError, match="source"):
        Affinity(1e-9, " ")
    with pytest.raises(CompetitionError, match="c_eff_source"):
        Binder("Dmab", 1e-9, Affinity(1e-9, SRC), 2, c_eff_intra_molar=1e-6)
    with pytest.raises(CompetitionError, match="receptor 'RANK'"):
        System((LigandPool("RANKL", 1e-9),), (Binder("OPG", 1e-9, Affinity(1e-9, SRC)),))


def test_ic50_out_of_range_is_reported(two_binder_model):
    system = _two_binder_system(10e-9, 1e-9, 1e-9)
    with pytest.raises(CompetitionError, match="does not cross half"):
        ic50(two_binder_model, "OPG", system, hi_molar=1e-12)


def test_pairwise_cooperativity_no_depletion():
    """Z = 1 + 3y + 3 w y^2 + w^3 y^3 for one trimer, y = K [RANK] (3 pairs when full)."""
    kd, rank, omega = 2e-9, 3e-9, 4.0
    system = System(
        (LigandPool("RANKL", 1e-21),),
        (
            Binder(
                "RANK",
                rank,
                Affinity(kd, SRC),
                cooperativity=omega,
                cooperativity_source="test value",
            ),
        ),
    )
    eq = EquilibriumModel(system).solve()
    y = rank / kd
    z = 1 + 3 * y + 3 * omega * y**2 + omega**3 * y**3
    sites = (3 * y + 6 * omega * y**2 + 3 * omega**3 * y**3) / (3 * z)
    assert eq.receptor_site_fraction[0] == pytest.approx(sites, rel=1e-9)
    assert eq.signalling_fraction[0] == pytest.approx(
        (3 * omega * y**2 + omega**3 * y**3) / z, rel=1e-9
    )


def test_kd_uncertainty_propagation(two_binder_model):
    """No depletion, RANK alone: theta = y / (1 + y), d theta / d ln Kd = -theta (1 - theta)."""
    rt = 8.314462618 * 298.15 / 4184.0
    system = System(
        (LigandPool("RANKL", 1e-21),),
        (
            Binder("RANK", 3e-9, Affinity.from_dg(-12.0, SRC, uncertainty_kcal=0.6)),
            Binder("OPG", 0.0, Affinity(1e-9, SRC, uncertainty_kcal=2.0)),
        ),
    )
    theta = two_binder_model.solve(system).receptor_site_fraction[0]
    sigma = two_binder_model.propagated_uncertainty(system, output="receptor_sites")
    assert sigma == pytest.approx(theta * (1 - theta) * 0.6 / rt, rel=1e-6)


def test_bridged_fraction_reports_truncation_risk(full_model):
    none = full_model.solve(_full_system([1e-9] * 4, [1e-9, 1e-9, 1e-9, 0.0, 0.0, 1e-9]))
    assert np.all(none.bridged_trimer_fraction < 1e-12)
    some = full_model.solve(
        _full_system([1e-9, 1e-9, 1e-11, 1e-9], [1e-9, 0.0, 1e-9, 0.0, 1e-9, 0.0])
    )
    assert 0.01 < some.bridged_trimer_fraction[0] < 1
