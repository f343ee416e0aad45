"""Staged, restartable OpenMM simulation: minimise → NVT → NPT → production.

One engine in the style of OpenMM's app layer: an ``openmm.app.Simulation`` per stage
with small reporters (:mod:`rankbind.simulation.reporters`): a chunked trajectory, a CSV
log, progress, and an atomic checkpoint. Every stage lives in ``OUT/<stage>/``.

Checkpoints hold OpenMM's binary checkpoint (``checkpoint_<step>.chk``, which carries the
integrator's random state), the portable State XML (``state_<step>.xml``) and the
pointer ``checkpoint.json`` (step, platform, device, OpenMM version, settings and system
hashes; written last). The uninterrupted run never rebuilds its Context. A resumed run
loads the binary checkpoint when platform, device and OpenMM version match: it then
continues exactly as the uninterrupted run would (bit-identical on Reference). Otherwise
it loads the State XML into a Context whose Langevin seed derives from (seed, stage,
step): statistically equivalent, not identical; the log and ``simulation.json`` say so.

Frames and log rows are buffered between checkpoints and written with them, so a
killed run resumes with no lost or duplicated frames or rows. A stage finishes by
writing ``<stage>.dcd``, ``log.csv`` and ``done.json``. ``simulation.json`` records the
settings and system hash of the data and every run that added to it; a resume with other
settings or another system is refused, and a longer production needs ``extend=True``.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform as _platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import openmm
from openmm import app, unit

from rankbind import interrupts
from rankbind.errors import SimulationError
from rankbind.fileio import atomic_link, atomic_open, exclusive_lock, write_json, write_text
from rankbind.platforms import PlatformChoice, minimisation_platform, select_platform
from rankbind.preparation import PreparedSystem
from rankbind.progress import Progress
from rankbind.settings import SimulationOptions
from rankbind.simulation.reporters import (
    AtomicCheckpointReporter,
    ChunkedTrajectoryReporter,
    CSVLogReporter,
    ProgressReporter,
    read_pointer,
)

BACKBONE = ("N", "CA", "C", "O")
RESTRAINT_PARAMETER = "rankbind_restraint_k"


def _nm(positions) -> np.ndarray:
    """(n, 3) float64 nm array of an OpenMM positions Quantity (list of Vec3 or numpy),
    converted with one factor (Quantity.value_in_unit deep-copies every Vec3)."""
    if not unit.is_quantity(positions):
        return np.asarray(positions, dtype=np.float64)
    factor = positions.unit.conversion_factor_to(unit.nanometer)
    return np.asarray(positions._value, dtype=np.float64) * factor


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
    xyz = _nm(positions)
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


def _dof(system: openmm.System, masses: np.ndarray) -> int:
    """Degrees of freedom: 3 per massive particle (``masses``: daltons, (n_particles,)),
    less constraints and the removed centre-of-mass motion."""
    dof = 3 * int((masses > 0).sum())
    dof -= system.getNumConstraints()
    if any(isinstance(f, openmm.CMMotionRemover) for f in system.getForces()):
        dof -= 3
    return dof


# settings that must match between a run directory and a resume (production length is
# checked separately: it may grow with extend=True)
RESUME_FIELDS = (
    "temperature_K",
    "pressure_bar",
    "friction_per_ps",
    "timestep_fs",
    "minimise_tolerance_kJ_mol_nm",
    "minimise_max_iterations",
    "nvt_ps",
    "npt_ps",
    "restraint_k_kJ_mol_nm2",
    "report_interval_steps",
    "checkpoint_interval_steps",
    "seed",
)


@dataclass
class StageResult:
    stage: str
    steps: int
    frames: int
    resumed_from_step: int
    wall_s: float
    platform: dict
    files: dict = field(default_factory=dict)
    resumed_with: str = ""  # "", "binary checkpoint" or "state XML, re-seeded (...)"


def device_description(context: openmm.Context) -> dict:
    """Platform, device kind and OpenMM version of a Context: what must match for a
    binary checkpoint to be loaded (OpenMM checkpoints are not portable across them)."""
    platform = context.getPlatform()
    props = {}
    for name in ("DeviceName", "Precision", "OpenCLPlatformName"):
        if name in platform.getPropertyNames():
            props[name] = platform.getPropertyValue(context, name)
    if platform.getName() in ("CPU", "Reference"):
        props["processor"] = _cpu_model()
    return {"platform": platform.getName(), "device": props, "openmm": openmm.__version__}


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return _platform.processor() or _platform.machine()


def _remove_partial_files(directory: Path) -> None:
    """Delete atomic-write temporaries (``.<name>.<random>.part``) a killed run left."""
    for path in directory.rglob(".*.part"):
        path.unlink(missing_ok=True)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _MinimisationProgress(openmm.MinimizationReporter):
    """Progress of LocalEnergyMinimizer and the safe point for stop signals: asked after
    every iteration, it stops the minimiser when a signal is pending."""

    def __init__(self, progress: Progress):
        super().__init__()
        self.progress = progress

    def report(self, iteration, x, grad, args):  # noqa: ARG002
        self.progress.update(min(iteration + 1, self.progress.total))
        return interrupts.stop_requested()


class StagedSimulation:
    """Runs the stages of :class:`SimulationOptions` for a prepared system in ``out_dir``.

    Usage::

        sim = StagedSimulation(prepared, "runs/3urf", SimulationOptions(), select_platform())
        results = sim.run()

    ``extend=True`` allows a longer ``production_ps`` than the run directory was made
    with (production continues from its last checkpoint); without it a changed length,
    like any other changed setting, is refused."""

    def __init__(
        self,
        prepared: PreparedSystem,
        out_dir: str | Path,
        options: SimulationOptions | None = None,
        platform: PlatformChoice | None = None,
        initial_state: openmm.State | None = None,
        extend: bool = False,
        stream=None,
    ):
        """``initial_state``: start from this State (e.g. the end of an equilibration run
        elsewhere) instead of minimising the prepared positions. ``stream``: where
        progress and resume notes go (default stderr)."""
        self.prepared = prepared
        self.initial_state = initial_state
        self.out = Path(out_dir)
        self.options = options or SimulationOptions()
        self.platform = platform or select_platform()
        self.extend = extend
        self.stream = stream or sys.stderr
        # one serialisation gives both the working copy of the System and its identity
        # (a clone and a separate hash would serialise it twice: seconds at 150k atoms)
        xml = openmm.XmlSerializer.serialize(prepared.system)
        self.system = openmm.XmlSerializer.deserialize(xml)
        digest = hashlib.sha256(xml.encode())
        digest.update(np.ascontiguousarray(_nm(prepared.positions), np.float64).tobytes())
        # identity of the system: its forces, parameters and masses, and the positions the
        # backbone restraints are anchored to
        self.system_sha256 = digest.hexdigest()
        self.n_restrained = add_backbone_restraints(
            self.system, prepared.topology, prepared.positions
        )
        self.periodic = self.system.usesPeriodicBoundaryConditions()
        masses = particle_masses(self.system)
        self.hmr = bool(((masses >= 1.5) & (masses <= 4.0)).any())
        self.dt_fs = (
            self.options.timestep_fs
            if self.options.timestep_fs is not None
            else (4.0 if self.hmr else 2.0)
        )
        self.dof = _dof(self.system, masses)
        self.checkpoint_timings: list[dict] = []

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

    def settings(self) -> dict:
        settings = {k: getattr(self.options, k) for k in RESUME_FIELDS}
        settings["timestep_fs"] = self.dt_fs
        settings["initial_state"] = self.initial_state is not None
        return settings

    def settings_sha256(self) -> str:
        text = json.dumps(self.settings(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def record(self) -> dict:
        return {
            "options": self.options.model_dump(),
            "timestep_fs": self.dt_fs,
            "hydrogen_mass_repartitioning": self.hmr,
            "integrator": "LangevinMiddleIntegrator",
            "barostat": "MonteCarloBarostat (npt stage only)" if self.periodic else None,
            "restrained_atoms": self.n_restrained,
            "restraint": "backbone heavy atoms N, CA, C, O; nvt and npt stages only",
            "platform": self.platform.describe(),
            "versions": {"openmm": openmm.__version__},
            "settings": self.settings(),
            "settings_sha256": self.settings_sha256(),
            "system_sha256": self.system_sha256,
            "n_atoms": self.system.getNumParticles(),
        }

    def _check_record(self) -> dict:
        """simulation.json for this run: the directory's record if the settings and
        system match (with this run appended to its history), else SimulationError."""
        path = self.out / "simulation.json"
        new = self.record()
        if not path.is_file():
            return new | {"runs": []}
        try:
            old = json.loads(path.read_text())
            old_settings, old_options = old["settings"], old["options"]
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise SimulationError(
                f"{path}: unreadable or from an older rankbind ({type(exc).__name__}); "
                "it must describe the data: use a new --out directory"
            ) from None
        new["system_sha256"] = self.system_sha256
        if old.get("system_sha256") not in (None, new["system_sha256"]):
            raise SimulationError(
                f"{self.out} holds a run of another system (system sha256 "
                f"{str(old.get('system_sha256'))[:12]}, this one {new['system_sha256'][:12]}); "
                "use a new --out directory"
            )
        changed = [
            f"{k} {old_settings.get(k)!r} -> {v!r}"
            for k, v in new["settings"].items()
            if old_settings.get(k) != v
        ]
        if changed:
            raise SimulationError(
                f"{self.out} was run with other settings ({'; '.join(changed)[:300]}); "
                "resume with the same settings or use a new --out directory"
            )
        before, now = old_options.get("production_ps"), self.options.production_ps
        if now != before:
            if now < before or not self.extend:
                raise SimulationError(
                    f"{self.out}: production_ps {before} -> {now} changes a run in place; "
                    + (
                        "a shorter production is not allowed (use a new --out directory)"
                        if now < before
                        else "pass --extend (extend=True) to lengthen production"
                    )
                )
            old.setdefault("extensions", []).append(
                {"production_ps_from": before, "production_ps_to": now, "at": _now()}
            )
        return new | {
            "runs": old.get("runs", []),
            "extensions": old.get("extensions", []),
        }

    def _note(self, record: dict, message: str) -> None:
        record.setdefault("notes", []).append(message)
        self.stream.write(message + "\n")
        self.stream.flush()

    # ---- stages -------------------------------------------------------------------
    def run(self) -> list[StageResult]:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SimulationError(f"cannot create output directory {self.out}: {exc}") from None
        # not the task runner's .lock: a task runs its simulation inside its own directory
        with exclusive_lock(self.out / ".simulation.lock", str(self.out), SimulationError):
            return self._run_locked()

    def _run_locked(self) -> list[StageResult]:
        _remove_partial_files(self.out)
        record = self._check_record()
        self._run_record = {"started": _now(), "platform": self.platform.describe()}
        record["runs"].append(self._run_record)
        self._record = record
        write_json(self.out / "simulation.json", record)
        state: openmm.State | Path | None = self.initial_state
        results = []
        # topology.pdb is written beside the first stage (3 s of Python at 150k atoms)
        with ThreadPoolExecutor(max_workers=1) as background:
            topology = None
            if not (self.out / "topology.pdb").exists():
                topology = background.submit(self._write_topology, self.out / "topology.pdb")
            for stage, steps in self.stages():
                result, state = self._run_stage(stage, steps, state)
                results.append(result)
            if topology is not None:
                topology.result()  # re-raises its error
        self._run_record["finished"] = _now()
        write_json(self.out / "simulation.json", record)
        return results

    def _write_topology(self, path: Path) -> None:
        # positions as one numpy Quantity: PDBFile converts a list of Vec3 by deep-copying
        # every Vec3, which made the write 3x slower (same bytes)
        with atomic_open(path) as handle:
            app.PDBFile.writeFile(
                self.prepared.topology,
                _nm(self.prepared.positions) * unit.nanometer,
                handle,
                keepIds=True,
            )

    def _integrator(self, seed: int) -> openmm.LangevinMiddleIntegrator:
        o = self.options
        integrator = openmm.LangevinMiddleIntegrator(
            o.temperature_K * unit.kelvin,
            o.friction_per_ps / unit.picosecond,
            self.dt_fs * unit.femtosecond,
        )
        integrator.setRandomNumberSeed(seed)
        return integrator

    def _stage_system(self, stage: str, step: int) -> openmm.System:
        if stage != "npt":
            return self.system
        system = openmm.XmlSerializer.clone(self.system)
        barostat = openmm.MonteCarloBarostat(
            self.options.pressure_bar * unit.bar, self.options.temperature_K * unit.kelvin
        )
        barostat.setRandomNumberSeed(_seed_for(self.options.seed, "barostat", step))
        system.addForce(barostat)
        return system

    def _simulation(self, stage: str, step: int, choice: PlatformChoice) -> app.Simulation:
        """An app.Simulation for ``stage`` whose random seeds derive from (seed, stage,
        step), with the stage's restraint strength."""
        try:
            simulation = app.Simulation(
                self.prepared.topology,
                self._stage_system(stage, step),
                self._integrator(_seed_for(self.options.seed, stage, step)),
                choice.platform,
                choice.properties,
            )
        except Exception as exc:  # OpenMMException: bad device index, driver problems
            raise SimulationError(
                f"stage {stage}: cannot create a {choice.name} context: {exc}"
            ) from None
        k = self.options.restraint_k_kJ_mol_nm2 if stage in ("minimise", "nvt", "npt") else 0.0
        simulation.context.setParameter(RESTRAINT_PARAMETER, k)
        return simulation

    def _load_state(self, path: Path) -> openmm.State:
        try:
            return openmm.XmlSerializer.deserialize(path.read_text())
        except (OSError, UnicodeDecodeError, Exception) as exc:
            raise SimulationError(
                f"{path}: corrupt or unreadable State XML ({str(exc)[:120]}); remove the "
                "stage directory to restart that stage"
            ) from None

    def _checkpoint_info(self, stage_dir: Path) -> dict | None:
        info = read_pointer(stage_dir)
        if info is not None and not (stage_dir / info["state"]).is_file():
            raise SimulationError(
                f"{stage_dir / 'checkpoint.json'}: names {info['state']}, which is missing"
            )
        return info

    def _prune_chunks(self, stage_dir: Path, step: int) -> None:
        """Drop chunk files beyond the checkpointed step (left by a killed run)."""
        for path in (stage_dir / "chunks").glob("*_*.*"):
            try:
                beyond = int(path.stem.split("_")[1]) > step
            except (IndexError, ValueError):
                beyond = True
            if beyond:
                path.unlink()

    def _run_stage(self, stage: str, steps: int, previous: openmm.State | Path | None):
        """Run (or resume, or skip when done) one stage; returns its StageResult and its
        final State, or the path of that State's XML (read only if a later stage needs
        it: parsing a 300k-atom State costs seconds)."""
        stage_dir = self.out / stage
        done = stage_dir / "done.json"
        final_state = stage_dir / "final_state.xml"
        if done.is_file():
            info = json.loads(done.read_text())
            if info.get("steps") == steps:
                return StageResult(**info), final_state
            done.unlink()  # extend=True: production continues from its last checkpoint
        stage_dir.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        if stage == "minimise":
            return self._minimise(stage_dir, done, final_state, start)
        return self._run_dynamics(stage, steps, previous, stage_dir, start)

    def _minimise(self, stage_dir: Path, done: Path, final_state: Path, start: float):
        stage = "minimise"
        choice = minimisation_platform(self.platform)
        simulation = self._simulation(stage, 0, choice)
        context = simulation.context
        context.setPositions(self.prepared.positions)
        if self.periodic:
            context.setPeriodicBoxVectors(*self.prepared.topology.getPeriodicBoxVectors())
        iterations = self.options.minimise_max_iterations
        progress = Progress(stage, iterations or 1, self.stream, unit="iterations")
        with interrupts.deferred():  # a stop signal ends the minimiser at its next iteration
            openmm.LocalEnergyMinimizer.minimize(
                context,
                self.options.minimise_tolerance_kJ_mol_nm,
                iterations,
                _MinimisationProgress(progress),
            )
        progress.close()
        self._check_state(context.getState(getEnergy=True), stage, 0, None)
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

    def _resume(self, stage: str, stage_dir: Path, info: dict) -> tuple[app.Simulation, str]:
        """A Simulation continuing from the checkpoint ``info``: from the binary
        checkpoint when platform, device and OpenMM version match (exact), else from
        the State XML with the seeds of (seed, stage, step) (a recorded re-seed)."""
        step = info["step"]
        binary = stage_dir / str(info.get("checkpoint", ""))
        simulation = self._simulation(stage, step, self.platform)
        here = device_description(simulation.context)
        saved = {k: info.get(k) for k in here}
        reason = ""
        if not info.get("checkpoint") or not binary.is_file():
            reason = "no binary checkpoint"
        elif saved != here:
            diff = [f"{k} {saved[k]} -> {here[k]}" for k in here if saved[k] != here[k]]
            reason = "; ".join(diff)[:300]
        else:
            try:
                simulation.context.loadCheckpoint(binary.read_bytes())
                return simulation, "binary checkpoint"
            except Exception as exc:  # OpenMMException: corrupt or incompatible file
                reason = f"binary checkpoint unusable ({str(exc)[:120]})"
                simulation = self._simulation(stage, step, self.platform)
        state = self._load_state(stage_dir / info["state"])
        simulation.context.setState(state)
        k = self.options.restraint_k_kJ_mol_nm2 if stage in ("nvt", "npt") else 0.0
        simulation.context.setParameter(RESTRAINT_PARAMETER, k)
        seed = _seed_for(self.options.seed, stage, step)
        how = f"state XML, re-seeded with seed {seed} ({reason})"
        self._note(
            self._record,
            f"{stage}: resumed at step {step} from {info['state']} with a new random seed "
            f"{seed} because {reason}: the continuation is statistically equivalent to, "
            "not identical with, an uninterrupted run",
        )
        with open(stage_dir / "events.log", "a") as log:
            log.write(f"{_now()} resumed at step {step}: {how}\n")
        return simulation, how

    def _run_dynamics(self, stage: str, steps: int, previous, stage_dir: Path, start: float):
        o = self.options
        info = self._checkpoint_info(stage_dir)
        resumed_from, how = (info["step"], "") if info else (0, "")
        if info:
            simulation, how = self._resume(stage, stage_dir, info)
            self._prune_chunks(stage_dir, resumed_from)
            if hasattr(self, "_run_record"):  # recorded now: this run may be killed too
                self._run_record.setdefault("resumed", {})[stage] = {
                    "from_step": resumed_from,
                    "with": how,
                }
                write_json(self.out / "simulation.json", self._record)
        else:
            if previous is None:
                raise SimulationError(f"stage {stage}: no input state (previous stage missing)")
            if isinstance(previous, Path):
                previous = self._load_state(previous)
            simulation = self._simulation(stage, 0, self.platform)
            context = simulation.context
            context.setPositions(previous.getPositions(asNumpy=True))
            if self.periodic:
                context.setPeriodicBoxVectors(*previous.getPeriodicBoxVectors())
            if stage == "nvt" or previous.getVelocities() is None:
                context.setVelocitiesToTemperature(
                    o.temperature_K * unit.kelvin, _seed_for(o.seed, stage, 0)
                )
            else:
                context.setVelocities(previous.getVelocities(asNumpy=True))
        simulation.currentStep = resumed_from
        chunk_dir = stage_dir / "chunks"
        chunk_dir.mkdir(parents=True, exist_ok=True)
        trajectory = ChunkedTrajectoryReporter(chunk_dir, o.report_interval_steps, self.periodic)
        log = CSVLogReporter(
            chunk_dir,
            o.report_interval_steps,
            self.dof,
            self.dt_fs,
            self.periodic,
            check=lambda state, step: self._check_state(state, stage, step, stage_dir),
        )
        log.start_timer(resumed_from)
        progress = Progress(stage, steps, self.stream, initial=resumed_from)
        simulation.reporters = [
            trajectory,
            log,
            ProgressReporter(progress, o.report_interval_steps),
        ]
        checkpoint = AtomicCheckpointReporter(
            stage_dir,
            o.checkpoint_interval_steps,
            buffered=(trajectory, log),
            metadata={
                **device_description(simulation.context),
                "settings_sha256": self.settings_sha256(),
            },
        )
        step = resumed_from
        try:
            self._advance(simulation, checkpoint, stage, stage_dir, step, steps)
        finally:  # also on a signal: the checkpoint being written completes
            checkpoint.wait()
        self.checkpoint_timings.extend(checkpoint.timings)
        progress.close()
        n_frames = ChunkedTrajectoryReporter.write_dcd(
            chunk_dir,
            stage_dir / f"{stage}.dcd",
            self.prepared.topology,
            self.dt_fs,
            o.report_interval_steps,
            self.periodic,
        )
        CSVLogReporter.write_csv(chunk_dir, stage_dir / "log.csv")
        # the final State is the last checkpoint's, linked (re-serialising a large State
        # costs seconds, and an energy evaluation 20 s for a 15k-atom GB complex on a CPU)
        final_state = stage_dir / "final_state.xml"
        atomic_link(stage_dir / self._checkpoint_info(stage_dir)["state"], final_state)
        result = StageResult(
            stage,
            steps,
            n_frames,
            resumed_from,
            time.monotonic() - start,
            self.platform.describe(),
            {"trajectory": f"{stage}.dcd", "log": "log.csv", "final_state": "final_state.xml"},
            how,
        )
        write_json(stage_dir / "done.json", asdict(result))
        return result, final_state

    def _advance(self, simulation, checkpoint, stage, stage_dir, step: int, steps: int) -> None:
        """Step from ``step`` to ``steps``, checkpointing every checkpoint interval."""
        interval = self.options.checkpoint_interval_steps
        while step < steps:
            target = min((step // interval + 1) * interval, steps)
            try:
                simulation.step(target - step)
            except openmm.OpenMMException as exc:  # e.g. NaN coordinates met inside step()
                raise SimulationError(
                    f"stage {stage}, step {step + 1}-{target}: OpenMM stopped: {exc} (the "
                    "system is exploding: check the timestep, constraints, minimisation and "
                    f"input structure){self._last_checkpoint_note(stage_dir)}"
                ) from None
            step = target
            checkpoint.save(simulation, step)

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
