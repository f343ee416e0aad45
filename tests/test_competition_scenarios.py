"""Scenarios, plots and the ``rankbind compete`` command on small grids.

All concentrations and Kd's here are test inputs, not facts."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import yaml

from rankbind.cli import compete as competition_cli
from rankbind.competition import scenarios as sc
from rankbind.competition.config import EXAMPLE
from rankbind.competition.model import Affinity, CompetitionError, EquilibriumModel
from rankbind.errors import ProtocolError

SRC = "test input"


def _system(**overrides):
    kwargs = dict(
        rankl_trimer_molar=1e-10,
        rank_molar=1e-9,
        kd_rank=Affinity(1e-9, SRC),
        opg_molar=1e-10,
        kd_opg=Affinity(1e-10, SRC),
        opg_dimer=sc.BivalentOptions(bridging=True),
        dmab_molar=0.0,
        kd_dmab=Affinity(1e-11, SRC),
        dmab_igg=sc.BivalentOptions(bridging=True),
        rank_c_molar=0.0,
        kd_rank_c=Affinity(1e-9, SRC),
        rankl3_trimer_molar=0.0,
    )
    return sc.rankl_system(**(kwargs | overrides))


@pytest.fixture(scope="module")
def model():
    return EquilibriumModel(_system())


def test_rankl_system_requires_kd_for_a_dosed_binder():
    with pytest.raises(CompetitionError, match="OPG total"):
        sc.rankl_system(1e-10, 1e-9, Affinity(1e-9, SRC), opg_molar=1e-9)


def test_ratio_sweep_is_monotonic(model):
    rankl = np.logspace(-12, -9, 4)
    opg = np.logspace(-12, -9, 4)
    sweep = sc.rankl_opg_ratio_sweep(model, _system(), rankl, opg)
    engaged = sweep["receptor_engaged"]
    assert engaged.shape == (4, 4)
    assert np.all(np.diff(engaged, axis=0) > 0)  # more RANKL engages more RANK
    assert np.all(np.diff(engaged, axis=1) < 0)  # more OPG engages less
    assert sweep["rankl_opg_ratio"][1, 2] == pytest.approx(rankl[1] / opg[2])
    # each grid point equals a direct solve
    point = model.solve(_system(rankl_trimer_molar=rankl[2], opg_molar=opg[1]))
    assert engaged[2, 1] == pytest.approx(point.receptor_engaged_fraction[0], rel=1e-10)
    surface = sc.dose_response_surface(model, _system(), "RANKL", rankl, "OPG", opg)
    np.testing.assert_allclose(surface["signalling"][..., 0], sweep["signalling"], rtol=1e-12)


def test_imbalance_path_raises_rank_engagement(model):
    system = _system()
    path = sc.rankl_opg_imbalance_path(model, system, [0.5, 1.0, 2.0, 4.0])
    assert np.all(np.diff(path["receptor_engaged"]) > 0)
    assert np.all(np.diff(path["rankl_opg_ratio"]) > 0)
    direct = model.solve(_system(rankl_trimer_molar=4e-10, opg_molar=0.25e-10))
    assert path["receptor_engaged"][3] == pytest.approx(
        direct.receptor_engaged_fraction[0], rel=1e-10
    )
    assert path["receptor_engaged"][1] == pytest.approx(
        model.solve(system).receptor_engaged_fraction[0], rel=1e-10
    )


def test_decoy_comparison_ic50_halves_the_response(model):
    doses = np.logspace(-13, -7, 7)
    result = sc.decoy_comparison(model, _system(opg_molar=0.0), doses)
    assert set(result) == {"OPG", "Dmab", "RANKc"}
    base = model.solve(_system(opg_molar=0.0)).signalling_fraction[0]
    for decoy, r in result.items():
        assert np.all(np.diff(r["signalling"][:, 0]) <= 1e-12), decoy
        x = r["ic50_molar"]
        at = {"OPG": "opg_molar", "Dmab": "dmab_molar", "RANKc": "rank_c_molar"}[decoy]
        half = model.solve(_system(**({"opg_molar": 0.0} | {at: x}))).signalling_fraction[0]
        assert half == pytest.approx(base / 2, rel=1e-8), decoy


def test_rankl3_pool_sequesters_rank(model):
    system = _system(opg_molar=0.0)
    result = sc.rankl3_coexpression(model, system, [0.0, 1e-10, 1e-9])
    engaged = result["receptor_engaged"]
    assert result["pool_names"] == ["RANKL", "RANKL3"]
    assert np.all(np.diff(engaged[:, 0]) < 0)  # membrane RANKL loses RANK
    # same site affinities: at equal pool totals both pools are alike
    assert engaged[1, 0] == pytest.approx(engaged[1, 1], rel=1e-10)
    assert result["receptor_sites"][1, 0] == pytest.approx(
        result["receptor_sites"][1, 1], rel=1e-10
    )


def test_dose_conversion_needs_cited_parameters():
    with pytest.raises(CompetitionError, match="source"):
        sc.dose_mg_to_molar(120.0, 1.5e5, 3.0, "")
    assert sc.dose_mg_to_molar(1.0, 1000.0, 1.0, "user") == pytest.approx(1e-6)


def _small_config(tmp_path):
    data = yaml.safe_load(EXAMPLE)
    assert all("ILLUSTRATIVE PLACEHOLDER" in b["affinity"]["source"] for b in data["binders"])
    data["pools"] = data["pools"][:1]
    data["binders"] = [b for b in data["binders"] if b["name"] in ("RANK", "OPG", "RANKc")]
    data["binders"][1].pop("valency")
    data["binders"][1].pop("bridging")
    data["scenarios"] = [
        {"kind": "ratio_sweep", "rankl_trimer_molar": [1e-11, 1e-10], "opg_molar": [1e-11, 1e-9]},
        {"kind": "decoy_comparison", "decoys": ["OPG", "RANKc"], "doses_molar": [0, 1e-9, 1e-7]},
        {"kind": "dose_response", "component": "RANKc", "doses_molar": [1e-10, 1e-8]},
    ]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path, data


def _cli(*argv):
    parser = argparse.ArgumentParser()
    competition_cli.configure(parser)
    return competition_cli.run(parser.parse_args(list(argv)))


def test_cli_run_writes_results_and_plots(tmp_path):
    path, _ = _small_config(tmp_path)
    out = tmp_path / "out"
    assert _cli("run", str(path), "-o", str(out)) == 0
    results = json.loads((out / "results.json").read_text())
    assert [s["scenario"]["kind"] for s in results["scenarios"]] == [
        "ratio_sweep",
        "decoy_comparison",
        "dose_response",
    ]
    assert results["baseline"]["max_relative_residual"] < 1e-10
    assert "ILLUSTRATIVE PLACEHOLDER" in results["assumptions"]["Kd:RANK"]
    for png in ("ratio_sweep_rank_engaged.png", "decoy_comparison.png", "dose_response_RANKc.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.part"))


def test_cli_bad_config_names_the_field(tmp_path):
    path, data = _small_config(tmp_path)
    del data["binders"][0]["affinity"]["source"]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ProtocolError, match=r"binders\[0\]\.affinity: missing field 'source'"):
        _cli("run", str(path), "-o", str(tmp_path / "out"))
    data["binders"][0]["affinity"]["source"] = "x"
    data["binders"][0]["affinity"]["kd_molar"] = "1 nM"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ProtocolError, match=r"affinity\.kd_molar: expected a number"):
        _cli("run", str(path), "-o", str(tmp_path / "out"))
