"""Staged, restartable OpenMM simulation: minimise → NVT → NPT → production.

Every stage lives in ``OUT/<stage>/`` and checkpoints portably: ``state_<step>.xml``
(OpenMM State XML) plus ``checkpoint.json`` naming it with the step counter (written
after the XML, so the pointer always names a complete state). Trajectory frames and log
rows produced between checkpoints are kept in memory and written with the checkpoint, so
a killed run resumes with no lost or duplicated frames or rows.

Reproducible restarts: at every checkpoint the uninterrupted run does exactly what a
resumed run does: it builds a fresh Context whose Langevin seed derives from (seed, stage,
step) and loads the State XML it just wrote. Both follow the same trajectory (bit-identical
on the deterministic Reference platform), at the cost of one Context per checkpoint. A stage finishes by writing ``<stage>.dcd``, ``log.csv`` and ``done.json``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import openmm
from openmm import app, unit

from rankbind.errors import SimulationError
from rankbind.fileio import atomic_open, write_json, write_text
from rankbind.platforms import PlatformChoice, minimisation_platform, select_platform
from rankbind.preparation import PreparedSystem
from rankbind.settings import SimulationOptions

BACKBONE = ("N", "CA", "C", "O")
LOG_FIELDS = (
    "step",
    "time_ps",
    "potential_kJ_mol",
    "kinetic_kJ_mol",
    "temperature_K",
    "volume_nm3",
    "speed_ns_day",
)
RESTRAINT_PARAMETER = "rankbind_restraint_k"


def particle_masses(system: openmm.System) -> np.ndarray:
    """(n_particles,) masses in daltons (OpenMM's mass unit, read without a per-particle
    unit conversion, which costs seconds at 300k atoms)."""
    return np.array([system.getParticleMass(i)._value for i in range(system.getNumParticles())])


def has_hmr(system: openmm.System) -> bool:
    """True when hydrogen masses were repartitioned: some particle weighs 1.5–4 amu, a mass
    no element has (H 1.008, He 4.0026). Rigid water keeps 1.008 amu hydrogens under
    OpenMM's ``hydrogenMass``, so a solvated HMR system also holds ordinary hydrogens."""
    masses = particle_masses(system)
    return bool(((masses >= 1.5) & (masses <= 4.0)).any())


def timestep_fs(options: SimulationOptions, system: openmm.System) -> float:
    if options.timestep_fs is not None:
        return options.timestep_fs
    return 4.0 if has_hmr(system) else 2.0


def add_backbone_restraints(system: openmm.System, topology: app.Topology, positions) -> int:
    """Harmonic positional restraints on backbone heavy atoms (N, CA, C, O), strength
    set by the global parameter ``rankbind_restraint_k`` (kJ/mol/nm²). Returns the count."""
    distance = (
        "periodicdistance(x, y, z, x0, y0, z0)"
        if system.usesPeriodicBoundaryConditions()
        else "sqrt((x-x0)^2 + (y-y0)^2 + (z-z0)^2)"
    )
    force = openmm.CustomExternalForce(f"0.5*{RESTRAINT_PARAMETER}*{distance}^2")
    force.addGlobalParameter(RESTRAINT_PARAMETER, 0.0)
    for name in ("x0", "y0", "z0"):
        force.addPerParticleParameter(name)
    xyz = positions.value_in_unit(unit.nanometer)
    count = 0
    for atom in topology.atoms():
        if atom.name in BACKBONE and atom.residue.name not in ("HOH", "NA", "CL"):
            force.addParticle(atom.index, list(xyz[atom.index]))
            count += 1
    force.setName("rankbind backbone restraints")
    system.addForce(force)
    return count


def _seed_for(seed: int, stage: str, step: int) -> int:
    digest = hashlib.sha256(f"{seed}:{stage}:{step}".encode()).digest()
    return 1 + int.from_bytes(digest[:4], "little") % 2_000_000_000


def _dof(system: openmm.System) -> int:
    dof = 3 * int((particle_masses(system) > 0).sum())
    dof -= system.getNumConstraints()
    if any(isinstance(f, openmm.CMMotionRemover) for f in system.getForces()):
        dof -= 3
    return dof


class Progress:
    """A one-line progress bar with ETA on a terminal; silent otherwise."""

    def __init__(self, label: str, total: int, stream=None):
        self.label, self.total = label, max(total, 1)
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.start = time.monotonic()
        self.first: int | None = None

    def update(self, step: int) -> None:
        if not self.enabled:
            return
        if self.first is None:
            self.first = step
        elapsed = time.monotonic() - self.start
        done = step - self.first
        rate = done / elapsed if elapsed > 0 and done > 0 else 0.0
        eta = (self.total - step) / rate if rate > 0 else float("nan")
        frac = step / self.total
        bar = "#" * int(30 * frac)
        eta_text = f"{eta:6.0f}s" if math.isfinite(eta) else "   ?  "
        self.stream.write(f"\r{self.label:>10} [{bar:<30}] {100 * frac:5.1f}% ETA {eta_text}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


@dataclass
class StageResult:
    stage: str
    steps: int
    frames: int
    resumed_from_step: int
    wall_s: float
    platform: dict
    files: dict = field(default_factory=dict)


class StagedSimulation:
    """Runs the stages of :class:`SimulationOptions` for a prepared system in ``out_dir``.

    Usage::

        sim = StagedSimulation(prepared, "runs/3urf", SimulationOptions(), select_platform())
        results = sim.run()
    """

    def __init__(
        self,
        prepared: PreparedSystem,
        out_dir: str | Path,
        options: SimulationOptions | None = None,
        platform: PlatformChoice | None = None,
        initial_state: openmm.State | None = None,
    ):
        """``initial_state``: start from this State (e.g. the end of an equilibration run
        elsewhere) instead of minimising the prepared positions."""
        self.prepared = prepared
        self.initial_state = initial_state
        self.out = Path(out_dir)
        self.options = options or SimulationOptions()
        self.platform = platform or select_platform()
        self.system = (
            openmm.XmlSerializer.clone(prepared.system)
            if hasattr(openmm.XmlSerializer, "clone")
            else openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(prepared.system))
        )
        self.n_restrained = add_backbone_restraints(
            self.system, prepared.topology, prepared.positions
        )
        self.periodic = self.system.usesPeriodicBoundaryConditions()
        self._npt_system: openmm.System | None = None
        self.dt_fs = timestep_fs(self.options, self.system)
        self.dof = _dof(self.system)

    # ---- stage plan -------------------------------------------------------------
    def stages(self) -> list[tuple[str, int]]:
        """(stage name, number of MD steps) in order; minimisation has 0 steps."""
        o = self.options
        to_steps = lambda ps: int(round(ps * 1000.0 / self.dt_fs))  # noqa: E731
        plan = [] if self.initial_state is not None else [("minimise", 0)]
        if o.nvt_ps > 0:
            plan.append(("nvt", to_steps(o.nvt_ps)))
        if o.npt_ps > 0 and self.periodic:
            plan.append(("npt", to_steps(o.npt_ps)))
        if o.production_ps > 0:
            plan.append(("production", to_steps(o.production_ps)))
        return plan

    def record(self) -> dict:
        return {
            "options": self.options.model_dump(),
            "timestep_fs": self.dt_fs,
            "hydrogen_mass_repartitioning": has_hmr(self.system),
            "integrator": "LangevinMiddleIntegrator",
            "barostat": "MonteCarloBarostat (npt stage only)" if self.periodic else None,
            "restrained_atoms": self.n_restrained,
            "restraint": "backbone heavy atoms N, CA, C, O; nvt and npt stages only",
            "platform": self.platform.describe(),
            "versions": {"openmm": openmm.__version__},
        }

    # ---- context handling ---------------------------------------------------------
    def _integrator(self, seed: int) -> openmm.LangevinMiddleIntegrator:
        o = self.options
        integrator = openmm.LangevinMiddleIntegrator(
            o.temperature_K * unit.kelvin,
            o.friction_per_ps / unit.picosecond,
            self.dt_fs * unit.femtosecond,
        )
        integrator.setRandomNumberSeed(seed)
        return integrator

    def _context(self, stage: str, step: int, choice: PlatformChoice) -> openmm.Context:
        system = self.system
        if stage == "npt":  # one copy of the System with a barostat, re-seeded per Context
            if self._npt_system is None:
                self._npt_system = openmm.XmlSerializer.deserialize(
                    openmm.XmlSerializer.serialize(self.system)
                )
                self._npt_system.addForce(
                    openmm.MonteCarloBarostat(
                        self.options.pressure_bar * unit.bar,
                        self.options.temperature_K * unit.kelvin,
                    )
                )
            system = self._npt_system
            barostat = system.getForce(system.getNumForces() - 1)
            barostat.setRandomNumberSeed(_seed_for(self.options.seed, "barostat", step))
        try:
            context = openmm.Context(
                system,
                self._integrator(_seed_for(self.options.seed, stage, step)),
                choice.platform,
                choice.properties,
            )
        except Exception as exc:  # OpenMMException: bad device index, driver problems
            raise SimulationError(
                f"stage {stage}: cannot create a {choice.name} context: {exc}"
            ) from None
        k = self.options.restraint_k_kJ_mol_nm2 if stage in ("minimise", "nvt", "npt") else 0.0
        context.setParameter(RESTRAINT_PARAMETER, k)
        return context

    def _set_state(self, context: openmm.Context, state: openmm.State, stage: str) -> None:
        context.setState(state)
        k = self.options.restraint_k_kJ_mol_nm2 if stage in ("minimise", "nvt", "npt") else 0.0
        context.setParameter(RESTRAINT_PARAMETER, k)

    def _load_state(self, path: Path) -> openmm.State:
        return openmm.XmlSerializer.deserialize(path.read_text())

    # ---- checkpoints --------------------------------------------------------------
    def _checkpoint_info(self, stage_dir: Path) -> dict | None:
        path = stage_dir / "checkpoint.json"
        if not path.is_file():
            return None
        info = json.loads(path.read_text())
        if not (stage_dir / info["state"]).is_file():
            raise SimulationError(f"{path}: names {info['state']}, which is missing")
        return info

    def _write_checkpoint(
        self, stage_dir: Path, context: openmm.Context, step: int, frames: list, rows: list
    ) -> openmm.State:
        """Persist frames and rows for steps ≤ ``step``, then the state, then the pointer.
        Returns the State written (the XML round trip is exact, so continuing from it
        equals resuming from the file)."""
        chunk_dir = stage_dir / "chunks"
        chunk_dir.mkdir(parents=True, exist_ok=True)
        if frames:
            with atomic_open(chunk_dir / f"frames_{step:012d}.npz", "wb") as handle:
                np.savez(
                    handle,
                    xyz=np.array([f[1] for f in frames]),
                    box=np.array([f[2] for f in frames]),
                    step=np.array([f[0] for f in frames]),
                )
        if rows:
            write_text(chunk_dir / f"log_{step:012d}.csv", _rows_csv(rows, header=False))
        state = context.getState(
            getPositions=True, getVelocities=True, getParameters=True, enforcePeriodicBox=False
        )
        state_name = f"state_{step:012d}.xml"
        xml = openmm.XmlSerializer.serialize(state)
        write_text(stage_dir / state_name, xml)
        previous = self._checkpoint_info(stage_dir)
        write_json(stage_dir / "checkpoint.json", {"step": step, "state": state_name})
        if previous and previous["state"] != state_name:
            (stage_dir / previous["state"]).unlink(missing_ok=True)
        self._prune_chunks(stage_dir, step)
        return state

    def _prune_chunks(self, stage_dir: Path, step: int) -> None:
        """Drop chunk files beyond the checkpointed step (left by a killed run)."""
        for path in (stage_dir / "chunks").glob("*_*.*"):
            if int(path.stem.split("_")[1]) > step:
                path.unlink()

    # ---- stages -------------------------------------------------------------------
    def run(self) -> list[StageResult]:
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(self.out / "simulation.json", self.record())
        if not (self.out / "topology.pdb").exists():
            with atomic_open(self.out / "topology.pdb") as handle:
                app.PDBFile.writeFile(
                    self.prepared.topology, self.prepared.positions, handle, keepIds=True
                )
        state: openmm.State | None = self.initial_state
        results = []
        for stage, steps in self.stages():
            result, state = self._run_stage(stage, steps, state)
            results.append(result)
        return results

    def _run_stage(self, stage: str, steps: int, previous: openmm.State | None):
        stage_dir = self.out / stage
        done = stage_dir / "done.json"
        final_state = stage_dir / "final_state.xml"
        if done.is_file():
            info = json.loads(done.read_text())
            return StageResult(**info), self._load_state(final_state)
        stage_dir.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        if stage == "minimise":
            choice = minimisation_platform(self.platform)
            context = self._context(stage, 0, choice)
            context.setPositions(self.prepared.positions)
            if self.periodic:
                context.setPeriodicBoxVectors(*self.prepared.topology.getPeriodicBoxVectors())
            openmm.LocalEnergyMinimizer.minimize(
                context,
                self.options.minimise_tolerance_kJ_mol_nm,
                self.options.minimise_max_iterations,
            )
            self._check_energy(context, stage, 0)
            state = context.getState(
                getPositions=True, getVelocities=True, getEnergy=True, getParameters=True
            )
            write_text(final_state, openmm.XmlSerializer.serialize(state))
            result = StageResult(
                stage,
                0,
                0,
                0,
                time.monotonic() - start,
                choice.describe(),
                {
                    "final_state": final_state.name,
                    "potential_kJ_mol": state.getPotentialEnergy().value_in_unit(
                        unit.kilojoule_per_mole
                    ),
                },
            )
            write_json(done, asdict(result))
            return result, state
        return self._run_dynamics(stage, steps, previous, stage_dir, start)

    def _run_dynamics(self, stage: str, steps: int, previous, stage_dir: Path, start: float):
        o = self.options
        info = self._checkpoint_info(stage_dir)
        resumed_from = info["step"] if info else 0
        context = self._context(stage, resumed_from, self.platform)
        if info:
            self._set_state(context, self._load_state(stage_dir / info["state"]), stage)
            self._prune_chunks(stage_dir, resumed_from)
        else:
            if previous is None:
                raise SimulationError(f"stage {stage}: no input state (previous stage missing)")
            context.setPositions(previous.getPositions())
            if self.periodic:
                context.setPeriodicBoxVectors(*previous.getPeriodicBoxVectors())
            if stage == "nvt" or previous.getVelocities() is None:
                context.setVelocitiesToTemperature(
                    o.temperature_K * unit.kelvin, _seed_for(o.seed, stage, 0)
                )
            else:
                context.setVelocities(previous.getVelocities())
        step = resumed_from
        context.setStepCount(step)
        frames: list = []
        rows: list = []
        progress = Progress(stage, steps)
        integrator = context.getIntegrator()
        t_wall, t_step = time.monotonic(), step
        written = None  # the last checkpointed State of this call
        while step < steps:
            n = min(o.report_interval_steps, steps - step)
            try:
                integrator.step(n)
            except openmm.OpenMMException as exc:  # e.g. NaN coordinates met inside step()
                raise SimulationError(
                    f"stage {stage}, step {step + 1}-{step + n}: OpenMM stopped: {exc} (the "
                    "system is exploding: check the timestep, constraints, minimisation and "
                    f"input structure){self._last_checkpoint_note(stage_dir)}"
                ) from None
            step += n
            state = context.getState(
                getPositions=True, getEnergy=True, enforcePeriodicBox=self.periodic
            )
            self._check_state(state, stage, step, stage_dir)
            now = time.monotonic()
            speed = (
                (step - t_step) * self.dt_fs * 1e-6 / ((now - t_wall) / 86400.0)
                if now > t_wall
                else 0.0
            )
            t_wall, t_step = now, step
            rows.append(self._row(state, step, speed))
            box = (
                state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer)
                if self.periodic
                else np.zeros((3, 3))
            )
            frames.append(
                (
                    step,
                    state.getPositions(asNumpy=True)
                    .value_in_unit(unit.nanometer)
                    .astype(np.float32),
                    np.asarray(box),
                )
            )
            progress.update(step)
            if step % o.checkpoint_interval_steps == 0 or step == steps:
                written = self._write_checkpoint(stage_dir, context, step, frames, rows)
                frames, rows = [], []
                if step < steps:  # continue exactly as a resumed run would
                    del context, integrator
                    context = self._context(stage, step, self.platform)
                    self._set_state(context, written, stage)
                    integrator = context.getIntegrator()
        progress.close()
        n_frames = self._finalise(stage, stage_dir)
        # the final State is the last checkpoint's (serialising a large State takes seconds,
        # and an energy evaluation for it would cost 20 s for a 15k-atom GB complex on a CPU)
        last = stage_dir / self._checkpoint_info(stage_dir)["state"]
        write_text(stage_dir / "final_state.xml", last.read_text())
        state = written if written is not None else self._load_state(last)
        result = StageResult(
            stage,
            steps,
            n_frames,
            resumed_from,
            time.monotonic() - start,
            self.platform.describe(),
            {"trajectory": f"{stage}.dcd", "log": "log.csv", "final_state": "final_state.xml"},
        )
        write_json(stage_dir / "done.json", asdict(result))
        return result, state

    def _row(self, state: openmm.State, step: int, speed: float) -> dict:
        ke = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
        temperature = (
            2
            * ke
            / (
                self.dof
                * unit.MOLAR_GAS_CONSTANT_R.value_in_unit(unit.kilojoule_per_mole / unit.kelvin)
            )
        )
        volume = (
            state.getPeriodicBoxVolume().value_in_unit(unit.nanometer**3)
            if self.periodic
            else float("nan")
        )
        return {
            "step": step,
            "time_ps": step * self.dt_fs / 1000.0,
            "potential_kJ_mol": state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole),
            "kinetic_kJ_mol": ke,
            "temperature_K": temperature,
            "volume_nm3": volume,
            "speed_ns_day": speed,
        }

    def _check_energy(self, context: openmm.Context, stage: str, step: int) -> None:
        self._check_state(context.getState(getEnergy=True), stage, step, None)

    def _check_state(
        self, state: openmm.State, stage: str, step: int, stage_dir: Path | None
    ) -> None:
        energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        limit = self.options.max_energy_per_atom_kJ_mol * self.system.getNumParticles()
        if not math.isfinite(energy) or energy > limit:
            raise SimulationError(
                f"stage {stage}, step {step}: potential energy {energy:.6g} kJ/mol is "
                f"{'not finite' if not math.isfinite(energy) else f'above {limit:.3g} kJ/mol'} "
                "(the system is exploding: check the timestep, constraints and input structure)"
                + self._last_checkpoint_note(stage_dir)
            )

    @staticmethod
    def _last_checkpoint_note(stage_dir: Path | None) -> str:
        if stage_dir is not None and (stage_dir / "checkpoint.json").is_file():
            return f"; last good checkpoint kept: {stage_dir / 'checkpoint.json'}"
        return ""

    def _finalise(self, stage: str, stage_dir: Path) -> int:
        """Concatenate chunks into ``<stage>.dcd`` and ``log.csv`` (atomically)."""
        chunks = sorted((stage_dir / "chunks").glob("frames_*.npz"))
        with atomic_open(stage_dir / f"{stage}.dcd", "wb") as handle:
            dcd = None
            n = 0
            for path in chunks:
                data = np.load(path)
                for xyz, box in zip(data["xyz"], data["box"], strict=True):
                    if dcd is None:
                        dcd = app.DCDFile(
                            handle,
                            self.prepared.topology,
                            self.dt_fs * unit.femtosecond,
                            firstStep=int(data["step"][0]),
                            interval=self.options.report_interval_steps,
                        )
                    vectors = (
                        [openmm.Vec3(*row) for row in box] * unit.nanometer
                        if self.periodic
                        else None
                    )
                    dcd.writeModel(
                        xyz.astype(np.float64) * unit.nanometer, periodicBoxVectors=vectors
                    )
                    n += 1
        rows = "".join(p.read_text() for p in sorted((stage_dir / "chunks").glob("log_*.csv")))
        write_text(stage_dir / "log.csv", ",".join(LOG_FIELDS) + "\n" + rows)
        return n


def _rows_csv(rows: list[dict], header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LOG_FIELDS, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
