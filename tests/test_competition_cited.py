"""Cited competition inputs: provenance validation, closed-form limits, PK, absent pools."""

import math

import numpy as np
import pytest
import yaml
from scipy.integrate import solve_ivp

from rankbind.competition.cited import ROLES, CitedModel, pk_model
from rankbind.competition.inputs import (
    InputError,
    load_inputs,
    mass_to_molar,
    register_sources,
    resolve,
)
from rankbind.competition.model import (
    Affinity,
    Binder,
    EquilibriumModel,
    LigandPool,
    System,
)


@pytest.fixture(scope="module")
def inputs():
    return load_inputs()


def test_every_shipped_input_has_provenance(inputs):
    for item in inputs.values():
        assert item.kind in ("cited", "placeholder")
        if item.kind == "cited":
            assert item.citation and item.location and item.confidence
        else:
            assert item.basis and item.label == "placeholder"
    # the values the issue names are cited, not placeholders
    assert inputs["kd_opgfc_trail"].kind == "cited" and inputs["kd_opgfc_trail"].value == 3.0e-9
    assert inputs["kd_opg_dimer_rankl"].kind == "cited"
    assert inputs["kd_rank_rankl"].kind == "placeholder"


def test_scenario_input_without_source_fails_validation(inputs):
    register_sources()
    with pytest.raises(InputError, match="kd_rank: bare number"):
        resolve(ROLES | {"kd_rank": 1e-9}, inputs)
    with pytest.raises(InputError, match="has no kind"):
        resolve(ROLES | {"kd_rank": {"value": 1e-9, "unit": "M"}}, inputs)
    with pytest.raises(InputError, match="known source id"):
        resolve(
            ROLES | {"kd_rank": {"value": 1e-9, "unit": "M", "kind": "cited", "source": "nobody",
                                 "location": "p1", "confidence": "primary"}},
            inputs,
        )  # fmt: skip
    with pytest.raises(InputError, match="basis"):
        resolve(ROLES | {"kd_rank": {"value": 1e-9, "unit": "M", "kind": "placeholder"}}, inputs)
    with pytest.raises(InputError, match="no input with id"):
        resolve(ROLES | {"kd_rank": "made_up"}, inputs)
    ok = resolve(
        ROLES | {"kd_rank": {"value": 2e-9, "unit": "M", "kind": "computed", "source": "run X"}},
        inputs,
    )
    assert ok["kd_rank"].value == 2e-9 and ok["kd_rank"].kind == "computed"


def test_inputs_file_cited_entry_without_location_fails(tmp_path):
    bad = {
        "schema": "rankbind.competition-inputs/1",
        "sources": {"a": {"citation": "A"}},
        "values": [{"id": "x", "quantity": "q", "value": 1.0, "unit": "M", "kind": "cited",
                    "source": "a", "confidence": "primary"}],
    }  # fmt: skip
    path = tmp_path / "inputs.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(InputError, match="location"):
        load_inputs(path)


def _quadratic_bound(a_total, b_total, kd):
    """Independent closed form for A + B <-> AB (one site each)."""
    s = a_total + b_total + kd
    return (s - math.sqrt(s * s - 4 * a_total * b_total)) / 2


@pytest.mark.parametrize(
    "binder_id, total_id",
    [("kd_opg_dimer_rankl", "opg_mass"), ("kd_dmab_rankl", None), ("kd_opgfc_trail", None)],
)
def test_single_site_limit_matches_quadratic_at_cited_inputs(inputs, binder_id, total_id):
    v = resolve(ROLES, inputs)
    rankl_sites = mass_to_molar(v["srankl_mass"], v["mw_rankl"])  # one site per monomer
    kd = inputs[binder_id].value
    if total_id == "opg_mass":
        binder_total = mass_to_molar(v["opg_mass"], v["mw_opg"])
    else:  # denosumab at its label steady-state trough; TRAIL case reuses it as a total
        binder_total = inputs["dmab_trough_ss_120q4w_ug_ml"].value * 1e-3 / 147000.0
    system = System(
        (LigandPool("RANKL", rankl_sites, sites=1),),
        (Binder("RANK", 0.0, Affinity(1e-9, "unused")), Binder("X", binder_total, Affinity(kd, binder_id))),
    )  # fmt: skip
    eq = EquilibriumModel(system).solve()
    bound = rankl_sites - eq.free_molar["RANKL"]
    expected = _quadratic_bound(rankl_sites, binder_total, kd)
    assert bound == pytest.approx(expected, rel=1e-8)


def test_partner_limit_matches_quadratic(inputs):
    """OPG + TRAIL alone (no RANKL): the partner complex obeys the quadratic."""
    opg, trail, kd = 4.1e-11, 1.0e-10, inputs["kd_opgfc_trail"].value
    system = System(
        (LigandPool("RANKL", 0.0),),
        (
            Binder("RANK", 0.0, Affinity(1e-9, "unused")),
            Binder("OPG", opg, Affinity(1e-8, "unused")),
            Binder("TRAIL", trail, Affinity(kd, "emery1998"), target="OPG"),
        ),
    )
    eq = EquilibriumModel(system).solve()
    assert opg - eq.free_molar["OPG"] == pytest.approx(_quadratic_bound(opg, trail, kd), rel=1e-8)
    assert trail - eq.free_molar["TRAIL"] == pytest.approx(
        _quadratic_bound(opg, trail, kd), rel=1e-8
    )


def test_partner_competes_with_rankl_binding():
    """A partner in vast excess removes its target from RANKL: the OPG-held site fraction
    falls to the value for the free OPG of the OPG-sink quadratic (trace RANKL)."""
    sites, opg, kd_opg, sink, kd_sink = 1e-12, 1e-8, 1e-9, 1e-6, 1e-9

    def held(sink_total):
        system = System(
            (LigandPool("RANKL", sites, sites=1),),
            (Binder("RANK", 0.0, Affinity(1e-9, "u")), Binder("OPG", opg, Affinity(kd_opg, "u")),
             Binder("Sink", sink_total, Affinity(kd_sink, "u"), target="OPG")),
        )  # fmt: skip
        model = EquilibriumModel(system)
        return model.site_fractions(model.solve(), system)["OPG"][0]

    free_opg = opg - _quadratic_bound(opg, sink, kd_sink)  # trace RANKL: OPG-sink alone
    assert held(sink) == pytest.approx(free_opg / (free_opg + kd_opg), rel=1e-3)
    assert held(0.0) == pytest.approx(opg / (opg + kd_opg), rel=1e-3)


def test_absent_pool_has_no_fractions(inputs):
    cm = CitedModel(resolve(ROLES, inputs))
    eq = cm.model.solve(cm._system(cm.baseline_totals()))
    assert eq.pool_names == ("RANKL", "RANKL3")
    assert np.isnan(eq.receptor_site_fraction[1]) and np.isnan(eq.signalling_fraction[1])
    assert np.isfinite(eq.receptor_site_fraction[0])
    eq3 = cm.model.solve(cm._system(cm.baseline_totals() | {"RANKL3": 1e-10}))
    assert np.all(np.isfinite(eq3.receptor_site_fraction))


def test_pk_superposition_matches_ode(inputs):
    pk = pk_model(resolve(ROLES, inputs))
    dose, tau = 120.0, 28.0
    times = tau * np.arange(6)

    def rhs(t, y):
        depot, central = y
        return [-pk.ka * depot, pk.ka * depot - pk.ke * central]

    t_eval = np.linspace(0, 6 * tau, 200, endpoint=False)
    y, conc = np.array([0.0, 0.0]), []
    for k, start in enumerate(times):
        y = y + np.array([pk.bioavailability * dose, 0.0])
        stop = times[k + 1] if k + 1 < len(times) else 6 * tau
        sel = t_eval[(t_eval >= start) & (t_eval < stop)]
        sol = solve_ivp(rhs, (start, stop), y, t_eval=sel, rtol=1e-10, atol=1e-12)
        conc.extend(sol.y[1] / pk.volume_l)
        y = solve_ivp(rhs, (start, stop), y, rtol=1e-10, atol=1e-12).y[:, -1]
    analytic = pk.concentration_mg_per_l(t_eval, dose, times)
    assert np.allclose(analytic, conc, rtol=1e-6, atol=1e-9)
    # tmax closed form against a dense grid
    grid = np.linspace(0, 60, 60001)
    single = pk.concentration_mg_per_l(grid, dose, [0.0])
    assert grid[np.argmax(single)] == pytest.approx(pk.tmax_single_day(), abs=2e-3)
    # steady-state trough: sum over k >= 1 doses given k intervals earlier (geometric)
    _, c = pk.steady_state_interval(dose, tau, 3)
    scale = pk.bioavailability * dose * pk.ka / (pk.volume_l * (pk.ka - pk.ke))
    trough = scale * (
        math.exp(-pk.ke * tau) / (1 - math.exp(-pk.ke * tau))
        - math.exp(-pk.ka * tau) / (1 - math.exp(-pk.ka * tau))
    )
    assert c[-1] == pytest.approx(trough, rel=1e-6)


def test_elasticities_match_finite_differences(inputs):
    """Autodiff d ln(signalling)/d ln(input) against central differences of the solve."""
    cm = CitedModel(resolve(ROLES, inputs))
    totals = cm.baseline_totals() | {"Sink": 1e-9}
    el = cm.sensitivities(totals)
    h = 1e-4
    for name in ("RANK", "RANKL", "OPG"):
        up = cm.solve(totals | {name: totals[name] * math.exp(h)})["signalling_molar"]
        dn = cm.solve(totals | {name: totals[name] * math.exp(-h)})["signalling_molar"]
        assert el[f"d/dlnTotal:{name}"] == pytest.approx(
            (math.log(up) - math.log(dn)) / (2 * h), rel=1e-4, abs=1e-7
        )


def test_task_puts_computed_prodigy_affinities_beside_cited(tmp_path):
    """cited_competition_task reads upstream PRODIGY summaries; the computed Kd reported
    is exp(dG/RT) of the summary's dG (independent arithmetic)."""
    import json
    from types import SimpleNamespace

    from rankbind.competition.cited import cited_competition_task

    # an upstream contacts task as the runner records it: provenance.json naming its outputs
    task = tmp_path / "footprints" / "all"
    (task / "4GIQ_interface").mkdir(parents=True)
    dg = -11.0
    (task / "4GIQ_interface" / "summary.json").write_text(
        json.dumps({"binder": "RANK/R", "input": "4GIQ", "prodigy": {"dg_kcal_per_mol_mean": dg}})
    )
    # a stray summary.json that no task recorded as an output is not read
    (task / "stray").mkdir()
    (task / "stray" / "summary.json").write_text(
        json.dumps({"binder": "OPG/R", "input": "x", "prodigy": {"dg_kcal_per_mol_mean": -1.0}})
    )
    record = {
        "task": {"stage": "footprints", "system": None},
        "result": {"outputs": {"summary.4GIQ": "footprints/all/4GIQ_interface/summary.json"}},
    }
    (task / "provenance.json").write_text(json.dumps(record))
    ctx = SimpleNamespace(
        directory=tmp_path / "out",
        run_dir=tmp_path,
        params={"plots": False},
        inputs={"footprints": [str(task)]},
    )
    result = cited_competition_task(ctx)
    assert result["computed"] == ["RANK"]
    assert result["outputs"] == {"results": "out/cited_competition.json"}
    data = json.loads((tmp_path / "out" / "cited_competition.json").read_text())
    (row,) = data["computed_vs_cited"]
    rt = 8.314462618 / 4184.0 * 298.15
    assert row["binder"] == "RANK" and row["computed_kd_molar"] == pytest.approx(math.exp(dg / rt))
    assert row["cited_label"] == "placeholder"
