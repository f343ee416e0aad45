"""OpenMM app reporters of the staged engine: chunked trajectory and CSV log, atomic
checkpoints, and :class:`ProgressReporter` driving a :class:`rankbind.progress.Progress`.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import openmm
from openmm import app, unit

from rankbind import interrupts
from rankbind.errors import SimulationError
from rankbind.fileio import atomic_open, write_json, write_text
from rankbind.progress import Progress

# ---------------------------------------------------------------- OpenMM app reporters
#
# Each follows openmm.app's reporter protocol (describeNextReport / report). The
# trajectory and log reporters buffer what they receive and write it in chunk files when
# ``flush(step)`` is called by the checkpoint: frames and rows for steps <= a checkpoint
# are on disk exactly when that checkpoint is, so a resumed run neither loses nor repeats
# any (append-safe). ``AtomicCheckpointReporter`` writes the checkpoint itself.


class _Every:
    """describeNextReport for a reporter firing every ``interval`` steps."""

    interval: int
    include: tuple[str, ...] = ()
    periodic: bool | None = None

    def describeNextReport(self, simulation):  # noqa: N802 (OpenMM's name)
        steps = self.interval - simulation.currentStep % self.interval
        return {"steps": steps, "periodic": self.periodic, "include": list(self.include)}


class ChunkedTrajectoryReporter(_Every):
    """Positions (nm, float32) and box vectors every ``interval`` steps, buffered; ``flush``
    writes ``chunks/frames_<step>.npz`` atomically; ``write_dcd`` joins the chunks."""

    include = ("positions",)

    def __init__(self, chunk_dir, interval: int, periodic: bool):
        self.chunk_dir, self.interval, self.periodic = Path(chunk_dir), int(interval), periodic
        self.frames: list[tuple[int, np.ndarray, np.ndarray]] = []

    def report(self, simulation, state) -> None:
        xyz = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        box = (
            state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer)
            if self.periodic
            else np.zeros((3, 3))
        )
        self.frames.append((simulation.currentStep, xyz.astype(np.float32), np.asarray(box)))

    def take(self, step: int):
        """Hand over the frames up to ``step``: returns the function writing their chunk."""
        frames, self.frames = self.frames, []
        path = self.chunk_dir / f"frames_{step:012d}.npz"

        def write() -> None:
            if frames:
                with atomic_open(path, "wb") as handle:
                    np.savez(
                        handle,
                        xyz=np.array([f[1] for f in frames]),
                        box=np.array([f[2] for f in frames]),
                        step=np.array([f[0] for f in frames]),
                    )

        return write

    def flush(self, step: int) -> None:
        self.take(step)()

    @staticmethod
    def write_dcd(chunk_dir, path, topology, dt_fs: float, interval: int, periodic: bool) -> int:
        """Join the chunks into one DCD (atomically); returns the frame count. The
        header's creation-date remark is fixed, so equal runs give equal bytes."""
        n = 0
        with atomic_open(path, "w+b") as handle:
            dcd = None
            for chunk in sorted(Path(chunk_dir).glob("frames_*.npz")):
                try:
                    with np.load(chunk) as npz:
                        data = {k: npz[k] for k in ("xyz", "box", "step")}
                except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                    raise SimulationError(
                        f"{chunk}: corrupt trajectory chunk ({type(exc).__name__}); remove "
                        "the stage directory to rerun the stage"
                    ) from None
                for xyz, box in zip(data["xyz"], data["box"], strict=True):
                    if dcd is None:
                        dcd = app.DCDFile(
                            handle,
                            topology,
                            dt_fs * unit.femtosecond,
                            firstStep=int(data["step"][0]),
                            interval=interval,
                        )
                    vectors = (
                        [openmm.Vec3(*row) for row in box] * unit.nanometer if periodic else None
                    )
                    dcd.writeModel(
                        xyz.astype(np.float64) * unit.nanometer, periodicBoxVectors=vectors
                    )
                    n += 1
            handle.flush()
            if n:
                handle.seek(0)
                at = handle.read(512).find(b"Created ", 101)
                if at > 0:  # the second remark holds time.asctime(): make it constant
                    handle.seek(at)
                    handle.write(struct.pack("<80s", b"Created by rankbind"))
                handle.seek(0, 2)
        return n


class CSVLogReporter(_Every):
    """A log row (step, time, energies, temperature, volume, speed) every ``interval``
    steps, buffered; ``flush`` writes ``chunks/log_<step>.csv``. ``check(state, step)`` is
    called first (the engine's explosion check)."""

    include = ("energy",)
    FIELDS = (
        "step",
        "time_ps",
        "potential_kJ_mol",
        "kinetic_kJ_mol",
        "temperature_K",
        "volume_nm3",
        "speed_ns_day",
    )

    def __init__(
        self, chunk_dir, interval: int, dof: int, dt_fs: float, periodic: bool, check=None
    ):
        self.chunk_dir, self.interval = Path(chunk_dir), int(interval)
        self.dof, self.dt_fs, self.periodic_box, self.check = dof, dt_fs, periodic, check
        self.rows: list[dict] = []
        self._last: tuple[float, int] | None = None

    def report(self, simulation, state) -> None:
        step = simulation.currentStep
        if self.check is not None:
            self.check(state, step)
        now = time.monotonic()
        speed = 0.0
        if self._last is not None and now > self._last[0]:
            speed = (step - self._last[1]) * self.dt_fs * 1e-6 / ((now - self._last[0]) / 86400)
        self._last = (now, step)
        ke = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
        r = unit.MOLAR_GAS_CONSTANT_R.value_in_unit(unit.kilojoule_per_mole / unit.kelvin)
        self.rows.append(
            {
                "step": step,
                "time_ps": step * self.dt_fs / 1000.0,
                "potential_kJ_mol": state.getPotentialEnergy().value_in_unit(
                    unit.kilojoule_per_mole
                ),
                "kinetic_kJ_mol": ke,
                "temperature_K": 2 * ke / (self.dof * r),
                "volume_nm3": state.getPeriodicBoxVolume().value_in_unit(unit.nanometer**3)
                if self.periodic_box
                else float("nan"),
                "speed_ns_day": speed,
            }
        )

    def start_timer(self, step: int) -> None:
        self._last = (time.monotonic(), step)

    def take(self, step: int):
        """Hand over the rows up to ``step``: returns the function writing their chunk."""
        rows, self.rows = self.rows, []
        path = self.chunk_dir / f"log_{step:012d}.csv"

        def write() -> None:
            if rows:
                buffer = io.StringIO()
                writer = csv.DictWriter(buffer, fieldnames=self.FIELDS, lineterminator="\n")
                writer.writerows(rows)
                write_text(path, buffer.getvalue())

        return write

    def flush(self, step: int) -> None:
        self.take(step)()

    @classmethod
    def write_csv(cls, chunk_dir, path) -> None:
        rows = "".join(p.read_text() for p in sorted(Path(chunk_dir).glob("log_*.csv")))
        write_text(path, ",".join(cls.FIELDS) + "\n" + rows)


class ProgressReporter(_Every):
    """Drives a :class:`Progress` every ``interval`` steps (asks OpenMM for no data)."""

    def __init__(self, progress: Progress, interval: int):
        self.progress, self.interval = progress, int(interval)

    def report(self, simulation, state) -> None:
        self.progress.update(simulation.currentStep)


class AtomicCheckpointReporter(_Every):
    """Every ``interval`` steps: flush the buffered reporters (frames and rows up to this
    step), then write OpenMM's binary checkpoint (``checkpoint_<step>.chk``: positions,
    velocities, box, parameters, step count and the integrator's and barostat's random
    state) and the portable State XML (``state_<step>.xml``), then the pointer
    ``checkpoint.json`` naming both with the step and ``metadata`` (platform, device,
    OpenMM version, settings and system hashes). The pointer is written last and
    atomically, so it always names complete files; older checkpoint files are removed
    after it. The Context is never rebuilt: the run continues as it was.

    In the staged engine ``save`` is called directly at each checkpoint step after
    ``Simulation.step`` returns (so the flush follows every report of that step whatever
    order OpenMM groups reporters in); ``report`` does the same for use as an ordinary
    reporter, where it should be the last one in ``simulation.reporters``."""

    def __init__(
        self,
        directory,
        interval: int,
        buffered=(),
        metadata: dict | None = None,
        background: bool = True,
    ):
        self.directory, self.interval = Path(directory), int(interval)
        self.buffered, self.metadata = list(buffered), dict(metadata or {})
        self.background = background
        self.timings: list[dict] = []
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def report(self, simulation, state) -> None:
        self.save(simulation, simulation.currentStep)

    def save(self, simulation, step: int) -> None:
        """Capture the checkpoint of ``step`` now (frames, rows, binary checkpoint, State:
        copies out of the Context) and write it, in a background thread when
        ``background`` (serialisation and file writes overlap the next MD steps; the
        previous checkpoint's write is waited for first, so pointers advance in order)."""
        t0 = time.perf_counter()
        writers = [reporter.take(step) for reporter in self.buffered]
        context = simulation.context
        binary = context.createCheckpoint()
        state = context.getState(
            getPositions=True, getVelocities=True, getParameters=True, enforcePeriodicBox=False
        )
        captured = time.perf_counter() - t0
        self.wait()
        waited = time.perf_counter() - t0 - captured
        timing = {"step": int(step), "capture_s": captured, "wait_previous_s": waited}
        self.timings.append(timing)
        job = (writers, binary, state, int(step), timing)
        if not self.background:
            self._write(*job)
            return
        # a stop signal inside Thread.start() would leave a running writer that wait()
        # cannot join ("cannot join thread before it is started"): defer it until started
        with interrupts.deferred():
            self._thread = threading.Thread(target=self._run, args=job, daemon=True)
            self._thread.start()

    def wait(self) -> None:
        """Block until the last checkpoint is on disk; re-raise its write error. A stop
        signal arriving meanwhile is raised after the write has finished (a daemon writer
        abandoned at exit would leave its temporary file behind)."""
        if self._thread is not None:
            with interrupts.deferred():
                self._thread.join()
                self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self, *job) -> None:
        try:
            self._write(*job)
        except BaseException as exc:  # reported to the main thread by wait()
            self._error = exc

    def _write(self, writers, binary, state, step: int, timing: dict) -> None:
        t0 = time.perf_counter()
        for write in writers:
            write()
        xml = openmm.XmlSerializer.serialize(state)
        names = {"state": f"state_{step:012d}.xml", "checkpoint": f"checkpoint_{step:012d}.chk"}
        with atomic_open(self.directory / names["checkpoint"], "wb") as handle:
            handle.write(binary)
        write_text(self.directory / names["state"], xml)
        previous = read_pointer(self.directory)
        write_json(self.directory / "checkpoint.json", {"step": step, **names, **self.metadata})
        if previous:
            for key in ("state", "checkpoint"):
                if previous.get(key) and previous[key] != names[key]:
                    (self.directory / previous[key]).unlink(missing_ok=True)
        timing["write_s"] = time.perf_counter() - t0


def read_pointer(directory) -> dict | None:
    """The ``checkpoint.json`` of a stage directory, or None; a corrupt one raises
    SimulationError naming the file."""
    path = Path(directory) / "checkpoint.json"
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text())
        int(info["step"]), str(info["state"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise SimulationError(
            f"{path}: corrupt checkpoint pointer ({type(exc).__name__}); remove the stage "
            "directory to restart that stage"
        ) from None
    return info
