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
        padding_nm=_value(padding, unit.nanometer) if padding is not None else 1.0,
        remove_water=not params.get("keep_crystal_waters", False),
        hydrogen_mass_amu=physics.get("hydrogen_mass"),
        constraints="None"
        if physics.get("constraints") == "none"
        else physics.get("constraints", "HBonds"),
        nonbonded_cutoff_nm=_value(
            physics.get("nonbonded_cutoff", 1.0 * unit.nanometer), unit.nanometer
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
):
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
    return _md(
        ctx,
        _upstream(ctx, "metadata.json"),
        None,
        length,
        0.0,
        interval,
        interval,
        ctx.params.get("restraint"),
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
