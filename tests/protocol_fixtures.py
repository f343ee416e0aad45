"""Test fixture task kinds for the protocol runner (NOT library code; the simulation
layer replaces ``frames`` with real production MD). Imported by protocols through
``plugins: [protocol_fixtures]`` with ``tests/`` on PYTHONPATH.

frames:  a real, tiny OpenMM simulation (the first residues of RANKL chain A of the
         system's catalogue entry, in vacuum, Reference platform), one line per frame in
         ``frames.log``; every ``checkpoint_every`` frames it atomically writes an OpenMM
         binary checkpoint (positions, velocities, RNG state) with the step counter and
         the log length, and on restart truncates the log to that length and continues,
         so an interrupted and resumed run writes the same frames as an uninterrupted one.
average: analysis over upstream ``frames`` outputs: mean potential energy per input.
where:   records the device the runner assigned (for the device-assignment test).
write:   writes ``chunks`` x ``chunk_bytes`` into ``blob.bin`` through rankbind.fileio's
         atomic_open, sleeping ``pause`` s per chunk after touching ``.writing`` (for the
         SIGTERM-mid-write and full-disk tests).
boom:    raises ValueError (failure handling).
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import time
from pathlib import Path

import openmm.unit as unit

from rankbind.fileio import atomic_open, write_json, write_text
from rankbind.protocols.registry import Resources, register_task
from rankbind.protocols.schema import Key, Number, Record

CHECKPOINT = ".checkpoint.json"


def _peptide(entry_name: str, n_residues: int):
    """PDBFixer-completed first ``n_residues`` residues of chain A of a catalogue entry."""
    from pdbfixer import PDBFixer

    # PDBFixer minimises added atoms on the default platform; PoCL OpenCL crashes here.
    os.environ.setdefault("OPENMM_DEFAULT_PLATFORM", "Reference")
    from rankbind.structures.catalogue import get_entry

    lines, seen = [], []
    for line in get_entry(entry_name).path.read_text().splitlines():
        if line.startswith("ATOM") and line[21] == "A":
            resid = line[22:27]
            if resid not in seen:
                if len(seen) == n_residues:
                    break
                seen.append(resid)
            lines.append(line)
    fixer = PDBFixer(pdbfile=io.StringIO("\n".join(lines + ["END"]) + "\n"))
    fixer.findMissingResidues()
    fixer.missingResidues = {}
    fixer.findMissingAtoms()
    fixer.addMissingAtoms(seed=0)
    fixer.addMissingHydrogens(7.0)
    return fixer.topology, fixer.positions


def frames_task(ctx) -> dict:
    import openmm
    import openmm.app as app
    import openmm.unit as u

    p = ctx.params
    random.seed(ctx.seed)  # Modeller.addHydrogens places hydrogens with Python's random
    topology, positions = _peptide(ctx.system["entry"], p["residues"])
    system = app.ForceField("amber14-all.xml").createSystem(
        topology, nonbondedMethod=app.NoCutoff, constraints=app.HBonds
    )
    integrator = openmm.LangevinMiddleIntegrator(
        ctx.physics.temperature_K * u.kelvin,
        ctx.physics.friction_per_ps / u.picosecond,
        (ctx.physics.timestep_fs or 2.0) * u.femtosecond,  # no HMR here: 2 fs by default
    )
    integrator.setRandomNumberSeed(ctx.seed)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("Reference"))
    log = ctx.directory / "frames.log"
    checkpoint = ctx.directory / CHECKPOINT
    if checkpoint.exists():
        state = json.loads(checkpoint.read_text())
        context.loadCheckpoint(base64.b64decode(state["checkpoint"]))
        with open(log, "r+b") as handle:  # drop frames written after the checkpoint
            handle.truncate(state["log_bytes"])
        frame = state["frames"]
    else:
        context.setPositions(positions)
        openmm.LocalEnergyMinimizer.minimize(context, 10.0, 200)
        context.setVelocitiesToTemperature(ctx.physics.temperature_K * u.kelvin, ctx.seed)
        log.write_text("")
        frame = 0
    while frame < p["frames"]:
        time.sleep(p["frame_delay_s"])  # paces runs that a test interrupts
        integrator.step(p["steps_per_frame"])
        energy = context.getState(getEnergy=True).getPotentialEnergy()
        with open(log, "a") as handle:
            handle.write(
                f"{frame} {context.getStepCount()} "
                f"{energy.value_in_unit(u.kilojoule_per_mole):.6f}\n"
            )
            handle.flush()
            os.fsync(handle.fileno())
        frame += 1
        if frame % p["checkpoint_every"] == 0 or frame == p["frames"]:
            write_json(
                checkpoint,
                {
                    "frames": frame,
                    "step": context.getStepCount(),
                    "log_bytes": log.stat().st_size,
                    "checkpoint": base64.b64encode(context.createCheckpoint()).decode(),
                },
            )
    return {"frames": frame, "atoms": system.getNumParticles(), "platform": "Reference"}


def engine_task(ctx) -> dict:
    """The real MD engine (StagedSimulation: minimise, production) on a tiny peptide on
    the Reference platform, in the task directory (resumes from its checkpoints)."""
    import openmm.app as app

    from rankbind.platforms import select_platform
    from rankbind.preparation import PreparedSystem
    from rankbind.simulation import SimulationOptions, StagedSimulation

    p = ctx.params
    random.seed(ctx.seed)
    topology, positions = _peptide(ctx.system["entry"], p["residues"])
    system = app.ForceField("amber14-all.xml").createSystem(
        topology,
        nonbondedMethod=app.NoCutoff,
        constraints=app.HBonds,
        hydrogenMass=1.5 * unit.amu,
    )
    options = SimulationOptions(
        nvt_ps=0,
        npt_ps=0,
        production_ps=p["steps"] * 0.004,
        report_interval_steps=p["report"],
        checkpoint_interval_steps=p["checkpoint"],
        seed=ctx.seed,
        minimise_max_iterations=50,
    )
    prepared = PreparedSystem(topology, positions, system, ())
    results = StagedSimulation(prepared, ctx.directory, options, select_platform("Reference")).run()
    return {
        "frames": results[-1].frames,
        "resumed_from_step": results[-1].resumed_from_step,
        "resumed_with": results[-1].resumed_with,
    }


def average_task(ctx) -> dict:
    means = {}
    for directory in [d for dirs in ctx.inputs.values() for d in dirs]:
        energies = [
            float(line.split()[2]) for line in (directory / "frames.log").read_text().splitlines()
        ]
        means[directory.name] = sum(energies) / len(energies)
    write_json(ctx.directory / "mean_energy.json", means)
    return {"inputs": len(means)}


def where_task(ctx) -> dict:
    record = {
        "device": ctx.device,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "window_nm": ctx.window.value_in_unit(unit.nanometer) if ctx.window is not None else None,
        "replica": ctx.task.replica,
        "inputs": {stage: [d.name for d in dirs] for stage, dirs in ctx.inputs.items()},
    }
    write_text(Path(ctx.directory) / "device.json", json.dumps(record))
    return record


def write_task(ctx) -> dict:
    p = ctx.params
    with atomic_open(ctx.directory / "blob.bin", "wb") as handle:
        (ctx.directory / ".writing").touch()
        for _ in range(p["chunks"]):
            handle.write(b"x" * p["chunk_bytes"])
            handle.flush()
            time.sleep(p["pause"])
    return {"bytes": p["chunks"] * p["chunk_bytes"]}


def boom_task(ctx) -> dict:
    raise ValueError(f"deliberate failure in {ctx.task.key}")


register_task(
    "frames",
    frames_task,
    stage="production",
    resources=Resources(gpu=False, time="00:10:00"),
    params=Record(
        {
            "residues": Key(Number(integer=True, min=2, max=20), default=3),
            "frames": Key(Number(integer=True, min=1), required=True),
            "steps_per_frame": Key(Number(integer=True, min=1), default=10),
            "checkpoint_every": Key(Number(integer=True, min=1), default=5),
            "frame_delay_s": Key(Number(min=0.0), default=0.0),
        }
    ),
)
register_task(
    "engine",
    engine_task,
    stage="production",
    resources=Resources(gpu=False, time="00:10:00"),
    params=Record(
        {
            "residues": Key(Number(integer=True, min=2, max=20), default=6),
            "steps": Key(Number(integer=True, min=1), required=True),
            "report": Key(Number(integer=True, min=1), default=50),
            "checkpoint": Key(Number(integer=True, min=1), default=250),
        }
    ),
)
register_task("average", average_task, stage="analysis", resources=Resources(time="00:05:00"))
register_task("where", where_task, stage="analysis", resources=Resources(gpu=True, time="00:05:00"))
register_task(
    "write",
    write_task,
    stage="production",
    params=Record(
        {
            "chunks": Key(Number(integer=True, min=1), default=4),
            "chunk_bytes": Key(Number(integer=True, min=1), default=1024),
            "pause": Key(Number(min=0.0), default=0.0),
        }
    ),
)
register_task("boom", boom_task, stage="analysis")
# a kind declared without an implementation (the runner reports it)
register_task("declared_only", None, stage="analysis", doc="no implementation (runner test)")
