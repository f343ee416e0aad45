"""rankbind.settings: one vocabulary with one set of defaults for the API, the CLI flags
and the protocol YAML; validation errors name the key path, the value and what is allowed."""

from __future__ import annotations

import argparse
import math

import pytest
import yaml

from rankbind.errors import ProtocolError, SettingsError
from rankbind.protocols import load_protocol
from rankbind.protocols.registry import get_kind
from rankbind.settings import (
    MMGBSASettings,
    PhysicsSettings,
    PMFSettings,
    PreparationOptions,
    SimulationOptions,
    UmbrellaSettings,
)


def _defaults(module: str, *argv: str) -> argparse.Namespace:
    import importlib

    parser = argparse.ArgumentParser()
    importlib.import_module(f"rankbind.cli.{module}").configure(parser)
    return parser.parse_args(list(argv))


def test_prepare_cli_defaults_are_the_api_defaults():
    args = _defaults("prepare", "4GIQ", "--out", "x")
    api = PreparationOptions()
    assert (args.forcefield, args.solvent, args.gb_model, args.water_model) == (
        api.forcefield,
        api.solvent,
        api.gb_model,
        api.water_model,
    )
    assert (args.ph, args.temperature, args.ionic_strength, args.padding, args.box_shape) == (
        api.ph,
        api.temperature_K,
        api.ionic_strength_molar,
        api.padding_nm,
        api.box_shape,
    )
    assert args.seed == api.seed and not args.no_hmr and api.hydrogen_mass_amu == 1.5


def test_simulate_cli_defaults_are_the_api_defaults():
    args = _defaults("simulate", "prep", "--out", "x")
    api = SimulationOptions()
    pairs = {
        "temperature": "temperature_K",
        "pressure": "pressure_bar",
        "friction": "friction_per_ps",
        "timestep": "timestep_fs",
        "nvt": "nvt_ps",
        "npt": "npt_ps",
        "production": "production_ps",
        "restraint_k": "restraint_k_kJ_mol_nm2",
        "report_interval": "report_interval_steps",
        "checkpoint_interval": "checkpoint_interval_steps",
        "seed": "seed",
    }
    assert {flag: getattr(args, flag) for flag in pairs} == {
        flag: getattr(api, field) for flag, field in pairs.items()
    }


def test_mmgbsa_and_umbrella_cli_defaults_are_the_api_defaults():
    args = _defaults("mmgbsa", "s.pdb", "-o", "x")
    api = MMGBSASettings()
    assert (args.gb, args.salt, args.temperature, args.nonpolar, args.bootstrap, args.seed) == (
        api.gb_model,
        api.salt_concentration,
        api.temperature,
        api.nonpolar,
        api.n_bootstrap,
        api.seed,
    )
    plan = _defaults(
        "umbrella", "plan", "--entry", "4GIQ", "--pdb", "p", "--system", "s",
        "--receptor", "RANK", "--out", "o",
    )  # fmt: skip
    u = UmbrellaSettings()
    assert (plan.k, plan.pull, plan.spacing, plan.temperature, plan.timestep, plan.samples) == (
        u.force_constant,
        u.pull_nm,
        u.spacing_nm,
        u.temperature_K,
        u.timestep_ps,
        u.samples,
    )
    analyse = _defaults(
        "umbrella", "analyse", "--plan", "p", "--dir", "d", "--site-max", "1",
        "--bulk-shell", "2", "3", "--out", "o",
    )  # fmt: skip
    assert analyse.bin_width == PMFSettings().bin_width_nm


def test_benchmark_cli_defaults_are_the_api_defaults():
    from rankbind.cli.benchmark import settings_from_args
    from rankbind.settings import AffinitySettings, DDGSettings, DockingBenchmarkSettings

    for kind, model in (("docking", DockingBenchmarkSettings), ("affinity", AffinitySettings),
                        ("ddg", DDGSettings)):  # fmt: skip
        args = _defaults("benchmark", kind, "dir", "-o", "x")
        assert settings_from_args(args) == model(), kind
    args = _defaults("benchmark", "ddg", "dir", "-o", "x")
    # the flags shared by affinity and ddg have one default in both models
    shared = {"gb": "mmgbsa_gb_model", "salt": "mmgbsa_salt_molar", "trim": "mmgbsa_trim_nm",
              "relax_iterations": "mmgbsa_relax_iterations", "protonation": "protonation",
              "mmgbsa_engine": "mmgbsa_engine", "bootstrap": "n_bootstrap"}  # fmt: skip
    for flag, field in shared.items():
        assert getattr(args, flag) == getattr(AffinitySettings(), field)
        assert getattr(args, flag) == getattr(DDGSettings(), field)


def test_default_variants_are_the_cross_validated_choices():
    """The ΔG headline variant is the one nested leave-one-complex-out CV chose in every
    fold of the committed calibration run; the ΔΔG one (fixed from the first 114 alanines,
    8/8 folds) does at least as well out of fold on all 234 as re-choosing inside each fold
    does; and the runs' protocol is the default."""
    import json
    from pathlib import Path

    from rankbind.settings import AffinitySettings, DDGSettings

    accuracy = Path(__file__).parents[1] / "gpu_bench" / "results" / "accuracy"
    aff = json.loads((accuracy / "affinity_relaxed_variants" / "results.json").read_text())
    chosen = aff["summary"]["variants"]["nested_selection"]["chosen_per_fold"]
    assert set(chosen.values()) == {AffinitySettings().variant} and len(chosen) == 25
    ddg = json.loads((accuracy / "ddg_symmetric" / "results.json").read_text())
    block = ddg["summary"]["variants"]["single_alanine"]
    fixed = block["by_variant"][DDGSettings().variant]["loco_calibrated"]["figures"]
    nested = block["nested_selection"]["figures"]
    assert fixed["n"] == 234 and len(block["nested_selection"]["chosen_per_fold"]) == 12
    assert fixed["pearson"]["value"] >= nested["pearson"]["value"]
    for run, model in ((aff, AffinitySettings), (ddg, DDGSettings)):
        used = run["settings"]
        for key in ("mmgbsa_salt_molar", "mmgbsa_trim_nm", "mmgbsa_relax_iterations",
                    "protonation", "mmgbsa_engine", "mmgbsa_platform", "mutant_start"):  # fmt: skip
            if key in used or model is DDGSettings:
                assert getattr(model(), key) == used[key], key


def test_a_variant_the_run_cannot_compute_is_refused():
    from rankbind.settings import AffinitySettings, DDGSettings

    with pytest.raises(SettingsError, match="variant gbn2_e4_nonp0 .*exact only without salt"):
        DDGSettings(mmgbsa_salt_molar=0.15)
    with pytest.raises(SettingsError, match="variant obc2_e1_nonp0 needs OBC2 components"):
        AffinitySettings(mmgbsa_extra_gb_models=())
    with pytest.raises(SettingsError, match=r"AffinitySettings\.variant: Input should be"):
        AffinitySettings(variant="gbn2_eres")  # residue-type eps_in: mutations only
    assert DDGSettings(mmgbsa_salt_molar=0.15, variant="gbn2_e1").variant == "gbn2_e1"


def test_protocol_physics_defaults_are_the_api_defaults(tmp_path):
    """An empty physics block gives exactly the API's preparation, simulation and
    MM/GBSA defaults (HMR 1.5 amu + automatic 4 fs step, the force field's own water,
    300 K, 0.15 M) -- the mismatches the old protocol schema had."""
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nsystems: {s: {entry: 4GIQ}}\nstages: [{name: prep, task: prepare}]\n")
    physics = load_protocol(path).resolved["physics"]
    assert physics == PhysicsSettings()
    assert physics.preparation() == PreparationOptions()
    assert physics.simulation() == SimulationOptions()
    assert physics.mmgbsa() == MMGBSASettings()
    amber19 = PhysicsSettings(forcefield="amber19").preparation()
    assert amber19.resolved_water_model() == "opc"


def test_task_kind_defaults_come_from_settings():
    equilibrate = get_kind("equilibrate").params.keys
    assert equilibrate["minimize_iterations"].default == SimulationOptions().minimise_max_iterations
    assert equilibrate["restraint"].default == "1000.0 kJ/mol/nm**2"
    umbrella = get_kind("umbrella").params.keys
    assert umbrella["force_constant"].default == "1000.0 kJ/mol/nm**2"
    # 500 steps x 2 fs per sample, 25000 x 2 fs equilibration (UmbrellaSettings)
    assert umbrella["report_interval"].default == "1.0 ps"
    assert umbrella["equilibration"].default == "50.0 ps"


def test_temperature_flows_from_physics_to_every_layer():
    physics = PhysicsSettings.load({"temperature": "310 K", "salt": "150 mM"}, "physics")
    assert physics.preparation().temperature_K == 310.0
    assert physics.simulation().temperature_K == 310.0
    mm = physics.mmgbsa()
    assert mm.temperature == 310.0
    # OpenMM/Amber Debye kappa with the 0.73 ion-exclusion factor (independent formula)
    assert mm.kappa == pytest.approx(0.73 * 10 * 50.33355 * math.sqrt(0.15 / 78.5 / 310.0))


@pytest.mark.parametrize(
    "model, data, message",
    [
        (
            PhysicsSettings,
            {"forcefield": "amber99"},
            r"physics\.forcefield: .*'amber14' or 'amber19'",
        ),
        (PhysicsSettings, {"temperature": "4 m"}, r"physics\.temperature: unit 'm'.*units: K"),
        (PhysicsSettings, {"timestep": "9 fs"}, r"physics\.timestep: .*less than or equal to 5"),
        (PhysicsSettings, {"friction": float("nan")}, r"physics\.friction: .*finite"),
        (
            PhysicsSettings,
            {"tempreature": "300 K"},
            r"physics\.tempreature: unknown key \(allowed: forcefield",
        ),
        (PhysicsSettings, {"forcefield": "x" * 500}, r"\(got 'xxxx[x]*\.\.\.\)$"),
        (
            PreparationOptions,
            {"water_model": "opc", "forcefield": "amber14", "ph": 15},
            r"physics\.ph",
        ),
    ],
)
def test_bad_values_name_key_path_and_allowed_values(model, data, message):
    with pytest.raises(SettingsError, match=message) as info:
        model.load(data, "physics")
    assert len(str(info.value)) < 400  # long values are truncated


def test_protocol_file_errors_name_the_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: p\nphysics: {temperature: 310 K, water_model: tip4pew}\n"
        "systems: {s: {entry: 4GIQ}}\nstages: [{name: prep, task: prepare}]\n"
    )
    with pytest.raises(ProtocolError, match=rf"{path}: physics\.water_model: .*'tip3p' or 'opc'"):
        load_protocol(path)
    path.write_text(
        "name: p\nphysics: {temperature: 310 K}\nphysics: {temperature: 300 K}\n"
        "systems: {s: {entry: 4GIQ}}\nstages: [{name: prep, task: prepare}]\n"
    )
    with pytest.raises(
        ProtocolError, match=rf"{path}: not valid YAML \(line 3.*duplicate key 'physics'"
    ):
        load_protocol(path)


def test_overrides_and_tiny_are_validated(tmp_path):
    path = tmp_path / "p.yaml"
    data = {
        "name": "p",
        "systems": {"s": {"entry": "4GIQ"}},
        "stages": [
            {"name": "prep", "task": "prepare"},
            {"name": "md", "task": "equilibrate", "params": {"length": "1 ns"}},
            {"name": "prod", "task": "simulate", "replicas": 4, "params": {"length": "5 ns"}},
        ],
    }
    path.write_text(yaml.safe_dump(data))
    tiny = load_protocol(path, tiny=True)
    assert tiny.stage("md")["params"]["length"].value_in_unit(
        __import__("openmm").unit.femtosecond
    ) == pytest.approx(8.0)
    assert tiny.stage("prod")["replicas"] == 1
    changed = load_protocol(path, {"physics": {"temperature": "310 K"}})
    assert changed.resolved["physics"].temperature_K == 310.0
    with pytest.raises(ProtocolError, match=r"overrides\.stages\.nope: no stage 'nope'"):
        load_protocol(path, {"stages": {"nope": {"replicas": 2}}})
    with pytest.raises(ProtocolError, match=r"physics\.temperature: .*below|greater than"):
        load_protocol(path, {"physics": {"temperature": "10 K"}})


def test_stage_must_follow_the_stage_whose_outputs_it_reads(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: p\nsystems: {s: {entry: 4GIQ}}\nstages: [{name: prep, task: prepare},\n"
        "  {name: prod, task: simulate, params: {length: 1 ns}}]\n"
    )
    with pytest.raises(
        ProtocolError,
        match=r"stages\[1\]\.after: a 'simulate' stage reads the outputs of a "
        r"equilibrate or simulate stage",
    ):
        load_protocol(path)


def test_mmgbsa_tasks_use_the_cross_validated_variants(tmp_path):
    """mmgbsa and alanine_scan default to the CV-fixed variants (their GB model, ε_in and
    non-polar term as rankbind.energies.variants defines them, no salt, the run's
    temperature); gb_model/salt refine variant 'none' only, refused with a named one."""
    from types import SimpleNamespace

    from rankbind.energies.variants import VARIANTS
    from rankbind.protocols.tasks import _mmgbsa_settings

    physics = PhysicsSettings.load({"temperature": "310 K", "salt": "100 mM"}, "physics")
    for kind, name in (("mmgbsa", "obc2_e1_nonp0"), ("alanine_scan", "gbn2_e4_nonp0")):
        params = get_kind(kind).params.check(
            {"receptor": "RANKL", "ligand": "RANK", "residues": ["RANKL:180"]}
            if kind == "alanine_scan" else {"receptor": "RANKL", "ligand": "RANK"}, "params"
        )  # fmt: skip
        assert params["variant"] == name
        got = _mmgbsa_settings(SimpleNamespace(params=params, seed=3, physics=physics))
        spec = VARIANTS[name]
        assert (got.gb_model, got.solute_dielectric, got.nonpolar) == (
            spec["gb_model"], spec["eps_in"], spec["nonpolar"]
        )  # fmt: skip
        assert (got.salt_concentration, got.temperature, got.seed) == (0.0, 310.0, 3)
    none = get_kind("mmgbsa").params.check(
        {"receptor": "RANKL", "ligand": "RANK", "variant": "none", "gb_model": "OBC2"}, "params"
    )
    got = _mmgbsa_settings(SimpleNamespace(params=none, seed=3, physics=physics))
    assert (got.gb_model, got.solute_dielectric, got.nonpolar, got.salt_concentration) == (
        "OBC2", 1.0, "sasa", 0.1
    )  # fmt: skip
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: p\nsystems: {s: {entry: 4GIQ}}\nstages: [{name: prep, task: prepare},\n"
        "  {name: mm, task: mmgbsa, params: {receptor: RANKL, ligand: RANK, salt: 0.15 M}}]\n"
    )
    with pytest.raises(ProtocolError, match=r"params\.salt: 'salt' applies to variant: none"):
        load_protocol(path)
