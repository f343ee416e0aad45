"""Task implementations binding protocol stages to the science modules.

Each function takes a :class:`~rankbind.protocols.runner.TaskContext` and returns a small
JSON-able summary. Outputs go to ``ctx.directory``; every science module writes
atomically and the simulation layer resumes from its own checkpoints.
"""

from __future__ import annotations

import json
from pathlib import Path

import openmm
from openmm import unit

from rankbind.errors import ProtocolError

SOLVENTS = {
    "gbn2": ("implicit", "GBn2"),
    "obc2": ("implicit", "OBC2"),
    "explicit": ("explicit", "GBn2"),
    "vacuum": ("vacuum", "GBn2"),
}


def _value(quantity, target):
    return quantity.value_in_unit(target) if hasattr(quantity, "value_in_unit") else float(quantity)


def _upstream(ctx, marker: str) -> Path:
    """The first upstream task directory holding ``marker`` (searching one level down too)."""
    for directories in ctx.inputs.values():
        for directory in directories:
            for candidate in (
                directory,
                *sorted(p for p in Path(directory).iterdir() if p.is_dir()),
            ):
                if (candidate / marker).is_file():
                    return candidate
    raise ProtocolError(
        f"task {ctx.task.stage}: no upstream output with {marker} (inputs: {ctx.inputs})"
    )


def preparation_options(physics: dict, params: dict):
    from rankbind.preparation import PreparationOptions

    solvent, gb_model = SOLVENTS[physics.get("solvent", "gbn2")]
    padding = params.get("padding")
    return PreparationOptions(
        forcefield=physics.get("forcefield", "amber14"),
        solvent=solvent,
        gb_model=gb_model,
        water_model=physics.get("water_model"),
        ph=float(params.get("ph", 7.0)),
        ionic_strength_molar=_value(physics.get("salt", 0.15 * unit.molar), unit.molar),
        temperature_K=_value(physics.get("temperature", 300.0 * unit.kelvin), unit.kelvin),
        padding_nm=_value(padding, unit.nanometer) if padding is not None else 1.0,
        remove_water=not params.get("keep_crystal_waters", False),
        hydrogen_mass_amu=physics.get("hydrogen_mass"),
        constraints="None"
        if physics.get("constraints") == "none"
        else physics.get("constraints", "HBonds"),
        nonbonded_cutoff_nm=_value(
            physics.get("nonbonded_cutoff", 1.0 * unit.nanometer), unit.nanometer
        ),
        implicit_cutoff_nm=(
            _value(physics["implicit_cutoff"], unit.nanometer)
            if "implicit_cutoff" in physics
            else None
        ),
    )


def simulation_options(physics: dict, seed: int, **stages):
    from rankbind.simulation import SimulationOptions

    return SimulationOptions(
        temperature_K=_value(physics.get("temperature", 300 * unit.kelvin), unit.kelvin),
        pressure_bar=_value(physics.get("pressure", 1 * unit.bar), unit.bar),
        friction_per_ps=float(physics.get("friction", 1.0)),
        timestep_fs=_value(physics["timestep"], unit.femtosecond)
        if "timestep" in physics
        else None,
        seed=seed,
        **stages,
    )


def _platform(ctx):
    from rankbind.platforms import select_platform

    return select_platform(
        ctx.platform.get("name", "auto"), None, ctx.platform.get("precision", "mixed")
    )


def _steps(interval, timestep_fs: float) -> int:
    return max(1, int(round(_value(interval, unit.femtosecond) / timestep_fs)))


def prepare_task(ctx) -> dict:
    """Build the system's assembly and prepare it (``prepared.pdb``, ``system.xml``, ``metadata.json``)."""
    from rankbind.preparation import prepare, write_prepared
    from rankbind.structures import build_assembly

    system = ctx.system or {}
    if "entry" not in system:
        raise ProtocolError(f"task {ctx.task.stage}: system needs an 'entry' to prepare")
    prepared = prepare(
        build_assembly(system["entry"], system.get("kind", "interface")),
        preparation_options(ctx.physics, ctx.params),
    )
    write_prepared(prepared, ctx.directory)
    return {
        "atoms": prepared.metadata["n_atoms"],
        "disulfides": prepared.metadata["disulfide_bonds"],
    }


def _md(
    ctx,
    prepared_dir: Path,
    initial_state,
    nvt_ps: float,
    production_ps: float,
    report_interval,
    checkpoint_interval,
    restraint,
    **extra,
):
    """MD of ``prepared_dir`` into the task directory; ``extra``: SimulationOptions fields."""
    from rankbind.preparation import load_prepared
    from rankbind.simulation import StagedSimulation, timestep_fs

    prepared = load_prepared(prepared_dir)
    dt = (
        _value(ctx.physics["timestep"], unit.femtosecond)
        if "timestep" in ctx.physics
        else timestep_fs(simulation_options(ctx.physics, ctx.seed), prepared.system)
    )
    report = _steps(report_interval, dt)
    checkpoint = report * max(1, _steps(checkpoint_interval, dt) // report)
    options = simulation_options(
        ctx.physics,
        ctx.seed,
        nvt_ps=nvt_ps,
        npt_ps=nvt_ps,
        production_ps=production_ps,
        report_interval_steps=report,
        checkpoint_interval_steps=checkpoint,
        **extra,
        **(
            {
                "restraint_k_kJ_mol_nm2": _value(
                    restraint, unit.kilojoule_per_mole / unit.nanometer**2
                )
            }
            if restraint is not None
            else {}
        ),
    )
    from rankbind.fileio import write_json

    write_json(
        Path(ctx.directory) / "inputs.json", {"prepared_dir": str(Path(prepared_dir).resolve())}
    )
    results = StagedSimulation(
        prepared, ctx.directory, options, _platform(ctx), initial_state
    ).run()
    return {
        r.stage: {"steps": r.steps, "frames": r.frames, "resumed_from_step": r.resumed_from_step}
        for r in results
    }


def equilibrate_task(ctx) -> dict:
    """Minimise, then restrained NVT (and NPT when periodic) for ``length``."""
    length = _value(ctx.params["length"], unit.picosecond)
    interval = ctx.params.get("report_interval", 10 * unit.picosecond)
    minimise = ctx.params.get("minimize", True)
    return _md(
        ctx,
        _upstream(ctx, "metadata.json"),
        None,
        length,
        0.0,
        interval,
        interval,
        ctx.params.get("restraint"),
        minimise_max_iterations=int(ctx.params.get("minimize_iterations", 1000)) if minimise else 1,
    )


def simulate_task(ctx) -> dict:
    """Production MD from the end of the upstream equilibration, one task per replica."""
    equilibrated = _upstream(ctx, "inputs.json")
    last = next(
        equilibrated / s
        for s in ("npt", "nvt", "minimise")
        if (equilibrated / s / "done.json").is_file()
    )
    state = openmm.XmlSerializer.deserialize((last / "final_state.xml").read_text())
    prepared_dir = Path(json.loads((equilibrated / "inputs.json").read_text())["prepared_dir"])
    return _md(
        ctx,
        prepared_dir,
        state,
        0.0,
        _value(ctx.params["length"], unit.picosecond),
        ctx.params.get("report_interval", 10 * unit.picosecond),
        ctx.params.get("checkpoint_interval", 100 * unit.picosecond),
        None,
    )


def _entries(ctx) -> list[tuple[str, dict]]:
    systems = ctx.systems if ctx.system is None else {ctx.task.system: ctx.system}
    return [(name, spec) for name, spec in systems.items() if "entry" in spec]


def contacts_task(ctx) -> dict:
    """Footprints, interface chemistry, PRODIGY and (for several systems) the competition
    map, computed on the crystal assemblies of the task's systems."""
    import argparse

    from rankbind.analysis import contacts_cli

    systems = _entries(ctx)
    kinds = {spec.get("kind", "interface") for _, spec in systems}
    if len(kinds) != 1:
        raise ProtocolError(f"task {ctx.task.stage}: systems mix assembly kinds {sorted(kinds)}")
    args = argparse.Namespace(
        inputs=[spec["entry"] for _, spec in systems],
        out=Path(ctx.directory),
        kind=kinds.pop(),
        binder=None,
        target="RANKL",
        cutoff=_value(ctx.params.get("cutoff", 0.4 * unit.nanometer), unit.nanometer),
        traj=None,
        stride=1,
        chunk=100,
        no_prodigy=False,
    )
    contacts_cli.run(args)
    return {"inputs": args.inputs}


def mmgbsa_task(ctx) -> dict:
    """MM/GBSA (JAX engine) over the frames of the upstream relaxation/production."""
    import mdtraj

    from rankbind.energies.mmgbsa import MMGBSASettings, mmgbsa, selection_atoms
    from rankbind.fileio import write_json
    from rankbind.preparation import load_prepared

    run = _upstream(ctx, "inputs.json")
    prepared = load_prepared(json.loads((run / "inputs.json").read_text())["prepared_dir"])
    trajectories = [
        run / s / f"{s}.dcd"
        for s in ("production", "npt", "nvt")
        if (run / s / f"{s}.dcd").is_file()
    ]
    frames = [prepared.positions.value_in_unit(unit.nanometer)]
    source = "prepared structure"
    minimised = run / "minimise" / "final_state.xml"
    if minimised.is_file():
        state = openmm.XmlSerializer.deserialize(minimised.read_text())
        frames, source = (
            [state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)],
            "minimised structure",
        )
    if trajectories:
        traj = mdtraj.load(str(trajectories[0]), top=str(run / "topology.pdb"))
        frames = traj.xyz[:: int(ctx.params.get("stride", 1))]
    settings = MMGBSASettings(
        gb_model=ctx.params.get("gb_model", "GBn2"),
        salt_concentration=_value(ctx.params.get("salt", 0.15 * unit.molar), unit.molar),
        temperature=_value(ctx.physics.get("temperature", 300 * unit.kelvin), unit.kelvin),
        seed=ctx.seed,
    )
    receptor = selection_atoms(prepared.topology, prepared.chains, ctx.params["receptor"])
    ligand = selection_atoms(prepared.topology, prepared.chains, ctx.params["ligand"])
    result = mmgbsa(prepared.topology, frames, receptor, ligand, settings)
    data = result.as_dict() | {
        "label": f"{ctx.params['ligand']} on {ctx.params['receptor']} ({ctx.task.system})",
        "frames_source": str(trajectories[0].relative_to(ctx.run_dir)) if trajectories else source,
    }
    write_json(Path(ctx.directory) / "mmgbsa.json", data)
    return {"dG_kcal_per_mol": data["dG_bind"]["kcal_per_mol"], "n_frames": data["n_frames"]}


def competition_task(ctx) -> dict:
    """Competition scenarios from a competition config (``rankbind compete`` format);
    with ``affinities: prodigy`` the RANK and OPG Kd come from the upstream PRODIGY
    estimates of the crystal interfaces, with that provenance recorded."""
    import argparse

    import yaml

    from rankbind.competition import competition_cli

    source = json.loads((Path(ctx.run_dir) / "protocol.json").read_text()).get("source", ".")
    config_path = Path(ctx.params["config"])
    if not config_path.is_absolute():
        config_path = Path(source).resolve().parent / config_path
    if not config_path.is_file():
        raise ProtocolError(f"task {ctx.task.stage}: params.config: no file {config_path}")
    config = yaml.safe_load(config_path.read_text())
    replaced = {}
    if ctx.params.get("affinities") == "prodigy":
        for summary in sorted(Path(p) for paths in ctx.inputs.values() for p in paths):
            for path in sorted(summary.rglob("summary.json")):
                data = json.loads(path.read_text())
                molecule = data["binder"].split("/")[0]
                stats = data.get("prodigy")
                for binder in config["binders"]:
                    if binder["name"] == molecule and stats:
                        binder["affinity"] = {
                            "dg_kcal": stats["dg_kcal_per_mol_mean"],
                            "source": f"PRODIGY (Vangone & Bonvin 2015) on crystal {data['input']} "
                            f"{data['provenance'].get('assembly', '')} assembly, computed by this run",
                        }
                        replaced[molecule] = stats["dg_kcal_per_mol_mean"]
    from rankbind.fileio import write_text

    merged = Path(ctx.directory) / "config.yaml"
    write_text(merged, yaml.safe_dump(config, sort_keys=False))
    competition_cli.run(
        argparse.Namespace(
            compete_command="run", config=merged, out=Path(ctx.directory), no_plots=False
        )
    )
    return {"prodigy_affinities_kcal": replaced}


def report_task(ctx) -> dict:
    """Markdown + HTML report of the whole run directory."""
    from rankbind.report import build_report

    path = build_report(ctx.run_dir, ctx.directory, ctx.params.get("title", "rankbind report"))
    return {"report": str(path)}
