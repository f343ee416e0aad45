"""The enumerated network against closed-form partition functions.

With independent sites, one trimer's binding polynomial factorises: each free-standing
site contributes (1 + a), a = sum_X K_X x_X + sum_B 2 K_B x_B (2 arms), and a loop of B
holds one of 3 site pairs with weight 2 K_B^2 c_B x_B. A bridged pair of trimers has
3 bridge-site choices per trimer, 2 arm orders and symmetry 1/2 for identical pools."""

from __future__ import annotations

import numpy as np
import pytest

from rankbind.competition.network import BinderSpec, PoolSpec, build_network


@pytest.fixture(scope="module")
def net():
    return build_network(
        (PoolSpec("RANKL"), PoolSpec("RANKL3")),
        (
            BinderSpec("RANK"),
            BinderSpec("OPG", 2, loops=True, bridging=True),
            BinderSpec("Dmab", 2, loops=True, bridging=True),
            BinderSpec("RANKc"),
        ),
    )


def _sums(net, log_k, log_c, x):
    """Sum of species concentrations grouped by (number of trimers, pools)."""
    theta = np.concatenate([log_k, log_c])
    log_beta = net.log_mult + net.params_count @ theta
    c = np.exp(log_beta + net.stoich @ np.log(x))
    out: dict[tuple, float] = {}
    for s, trimers in enumerate(net.trimer_states):
        key = tuple(sorted(p for p, _ in trimers))
        out[key] = out.get(key, 0.0) + c[s]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binding_polynomials(net, seed):
    rng = np.random.default_rng(seed)
    k = np.exp(rng.uniform(-2, 2, 4))  # RANK, OPG, Dmab, RANKc
    c = np.exp(rng.uniform(-1, 3, 2))  # loop c_eff of OPG, Dmab
    x = np.exp(rng.uniform(-2, 1, 6))  # RANKL, RANKL3, RANK, OPG, Dmab, RANKc
    xt, xt3, xr, xo, xd, xc = x
    a = k[0] * xr + 2 * k[1] * xo + 2 * k[2] * xd + k[3] * xc
    loops = 2 * k[1] ** 2 * c[0] * xo + 2 * k[2] ** 2 * c[1] * xd
    single = (1 + a) ** 3 + 3 * loops * (1 + a)
    half = 3 * ((1 + a) ** 2 + loops)  # a trimer holding one bridge end
    bridge = k[1] ** 2 * xo + k[2] ** 2 * xd  # both arms bound, intermolecular
    sums = _sums(net, np.log(k), np.log(c), x)
    assert sums[(0,)] == pytest.approx(xt * single, rel=1e-12)
    assert sums[(1,)] == pytest.approx(xt3 * single, rel=1e-12)
    assert sums[(0, 0)] == pytest.approx(0.5 * 2 * bridge * xt * xt * half * half, rel=1e-12)
    assert sums[(1, 1)] == pytest.approx(0.5 * 2 * bridge * xt3 * xt3 * half * half, rel=1e-12)
    assert sums[(0, 1)] == pytest.approx(2 * bridge * xt * xt3 * half * half, rel=1e-12)


def test_stoichiometry_counts_molecules_and_sites(net):
    # every species: sites held on each pool never exceed the sites present
    trimers = net.stoich[:, :2]
    held = net.site_count.sum(axis=2)
    assert np.all(held <= 3 * trimers)
    # bivalent molecules hold at most 2 sites each, monovalent exactly 1
    for b, spec in enumerate(net.binders):
        sites = net.site_count[:, :, b].sum(axis=1)
        molecules = net.stoich[:, 2 + b]
        if spec.valency == 1:
            assert np.array_equal(sites, np.where(trimers.sum(axis=1) > 0, molecules, 0))
        else:
            assert np.all(sites <= 2 * molecules)
    assert len(set(net.labels)) == len(net.labels)
