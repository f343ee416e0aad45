"""Running tasks: one task (idempotent, the unit SLURM array jobs call) and a whole
DAG on this machine (``run_local``).

A run directory holds ``protocol.json`` (the resolved protocol), ``protocol.yaml``
(the file as given), ``plan.json`` (the task DAG) and one directory per task. A task
directory is complete when it holds ``.done``, written last, listing the sha256 of
every output; ``provenance.json`` is written just before it. ``.running`` and
``.failed`` record attempts in progress and failed ones. Files whose names start with
a dot (markers, atomic-write temporaries, logs) are not outputs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rankbind.errors import ProtocolError, RankbindError
from rankbind.fileio import sha256_file, write_json
from rankbind.protocols import provenance, registry
from rankbind.protocols.dag import Plan, Task, expand
from rankbind.protocols.protocol import Protocol, load_protocol, protocol_from_dict

DONE, RUNNING, FAILED = ".done", ".running", ".failed"
REPO_ROOT = Path(__file__).resolve().parents[2]


class TaskInterrupted(BaseException):
    """SIGTERM/SIGINT arrived while a task ran (SLURM time limit, preemption, scancel)."""


@dataclass
class TaskContext:
    """What a task function gets. Quantities are OpenMM Quantities.

    directory: the task's output directory (exists; may hold a checkpoint of an earlier
    attempt). inputs: upstream stage -> output directories of the tasks this one depends
    on. device: the device id assigned by ``run_local --devices`` (CUDA_VISIBLE_DEVICES is
    set to it, so inside the process the GPU is device 0), else None."""

    task: Task
    directory: Path
    run_dir: Path
    params: dict[str, Any]
    physics: Any  # rankbind.settings.PhysicsSettings
    platform: Any  # rankbind.settings.PlatformSettings
    system: dict[str, Any] | None
    systems: dict[str, dict[str, Any]]
    window: Any | None
    seed: int
    inputs: dict[str, list[Path]]
    device: str | None


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------- run directory


def materialize(protocol: Protocol | str | Path, run_dir: str | Path) -> Plan:
    """Create (or reopen) ``run_dir`` for ``protocol`` and return its plan. A run
    directory belongs to one resolved protocol; reusing it with another is an error."""
    if not isinstance(protocol, Protocol):
        protocol = load_protocol(protocol)
    run_dir = Path(run_dir)
    stored = run_dir / "protocol.json"
    if stored.exists():
        old = json.loads(stored.read_text())
        if old.get("sha256") != protocol.digest():
            raise ProtocolError(
                f"{run_dir} already holds a run of protocol '{old.get('protocol', {}).get('name')}'"
                f" with different settings (sha256 {str(old.get('sha256'))[:12]}); "
                "use a new run directory"
            )
    plan = expand(protocol)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not stored.exists():
            if Path(protocol.source).is_file():
                shutil.copyfile(protocol.source, run_dir / "protocol.yaml")
            write_json(run_dir / "plan.json", plan.to_data())
            write_json(
                stored,
                {
                    "sha256": protocol.digest(),
                    "source": protocol.source,
                    "protocol": protocol.data(),
                },
            )
    except OSError as exc:
        raise RankbindError(f"cannot write run directory {run_dir}: {exc}") from None
    return plan


def open_run(run_dir: str | Path) -> Plan:
    """The plan of an existing run directory."""
    run_dir = Path(run_dir)
    stored = run_dir / "protocol.json"
    if not stored.is_file():
        raise ProtocolError(f"{run_dir} is not a rankbind run directory (no protocol.json)")
    try:
        data = json.loads(stored.read_text())
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"{stored}: corrupt ({exc})") from None
    protocol = protocol_from_dict(data["protocol"], source=str(stored), base=run_dir)
    return expand(protocol)


# ---------------------------------------------------------------- markers


def outputs(directory: Path) -> dict[str, str]:
    """Relative path -> sha256 of every output file (no dot-files, no provenance.json)."""
    out = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if not path.is_file() or any(p.startswith(".") for p in rel.parts):
            continue
        if rel.as_posix() == "provenance.json":
            continue
        out[rel.as_posix()] = sha256_file(path)
    return out


def read_marker(directory: Path, name: str) -> dict | None:
    try:
        return json.loads((directory / name).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def is_done(directory: Path, verify: bool = False) -> bool:
    """True when ``directory`` holds a ``.done`` whose outputs exist (and, with
    ``verify``, still have the recorded checksums)."""
    marker = read_marker(directory, DONE)
    if marker is None:
        return False
    for rel, digest in marker.get("outputs", {}).items():
        path = directory / rel
        if not path.is_file() or (verify and sha256_file(path) != digest):
            return False
    return True


# ---------------------------------------------------------------- one task


def _inputs(plan: Plan, task: Task, run_dir: Path) -> dict[str, list[Path]]:
    by_key = plan.by_key()
    out: dict[str, list[Path]] = {}
    for key in task.deps:
        up = by_key[key]
        out.setdefault(up.stage, []).append(run_dir / up.directory)
    return out


def _context(plan: Plan, task: Task, run_dir: Path, device: str | None) -> TaskContext:
    resolved = plan.protocol.resolved
    stage = plan.protocol.stage(task.stage)
    windows = stage.get("windows")
    systems = (
        resolved["systems"]
        if task.system is None
        else {task.system: resolved["systems"][task.system]}
    )
    return TaskContext(
        task=task,
        directory=run_dir / task.directory,
        run_dir=run_dir,
        params=stage["params"],
        physics=resolved["physics"],
        platform=resolved["platform"],
        system=resolved["systems"][task.system] if task.system else None,
        systems=systems,
        window=windows[task.window] if task.window is not None else None,
        seed=task.seed,
        inputs=_inputs(plan, task, run_dir),
        device=device,
    )


def _interrupt(signum, _frame):
    raise TaskInterrupted(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def _signals_interrupt():
    """Turn SIGTERM (SLURM timeout, preemption, scancel) into TaskInterrupted so that
    atomic writes in progress are discarded and no completion marker is written."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run_task(run_dir: str | Path, stage: str, index: int, device: str | None = None) -> str:
    """Run task ``index`` of ``stage`` unless it is already complete. Idempotent: a
    complete task is skipped ("skipped"); an incomplete one is (re)started in its own
    directory, where its function resumes from its checkpoint ("done").

    Raises RankbindError naming the task when it fails, TaskInterrupted on SIGTERM."""
    run_dir = Path(run_dir)
    plan = open_run(run_dir)
    task = plan.task(stage, index)
    directory = run_dir / task.directory
    with _task_lock(directory, task.key):
        return _run_locked(plan, task, run_dir, directory, device)


@contextlib.contextmanager
def _task_lock(directory: Path, key: str):
    """Exclusive lock on the task directory: two runners never work on one task."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / ".lock", "a")
    except OSError as exc:
        raise RankbindError(f"task {key}: cannot create {directory}: {_describe(exc)}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RankbindError(
                f"task {key} is already being run by another process ({directory / '.lock'})"
            ) from None
        yield


def _run_locked(plan: Plan, task: Task, run_dir: Path, directory: Path, device: str | None) -> str:
    if is_done(directory, verify=True):
        return "skipped"
    with contextlib.suppress(FileNotFoundError):
        (directory / DONE).unlink()  # stale: outputs changed or missing
    by_key = plan.by_key()
    missing = [k for k in task.deps if not is_done(run_dir / by_key[k].directory)]
    if missing:
        raise ProtocolError(f"task {task.key}: upstream task(s) not complete: {', '.join(missing)}")
    try:
        function = registry.get_kind(task.kind).implementation()
    except ProtocolError as exc:
        raise ProtocolError(f"task {task.key}: {exc}") from None
    ctx = _context(plan, task, run_dir, device)
    started, t0 = now(), time.monotonic()
    try:
        with contextlib.suppress(FileNotFoundError):
            (directory / FAILED).unlink()
        write_json(
            directory / RUNNING,
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "slurm_job": os.environ.get("SLURM_JOB_ID"),
                "started": started,
            },
        )
        with _signals_interrupt():
            result = function(ctx)
            record = {
                "task": {
                    "stage": task.stage,
                    "id": task.id,
                    "index": task.index,
                    "kind": task.kind,
                    "system": task.system,
                    "replica": task.replica,
                    "window": task.window,
                    "depends_on": list(task.deps),
                },
                "protocol": plan.protocol.data(),
                "protocol_sha256": plan.protocol.digest(),
                "params": _plain(ctx.params),
                "window_value": _plain(ctx.window),
                "seeds": {"protocol": plan.protocol.resolved["seed"], "task": task.seed},
                "inputs": {
                    "structures": provenance.structure_checksums(ctx.systems),
                    "upstream": {
                        k: read_marker(run_dir / by_key[k].directory, DONE)["outputs"]
                        for k in task.deps
                    },
                },
                "software": provenance.software_versions(),
                "host": provenance.host_record(device),
                "started": started,
                "finished": now(),
                "wall_time_s": round(time.monotonic() - t0, 3),
                "result": result,
            }
            write_json(directory / "provenance.json", record)
            write_json(
                directory / DONE,
                {
                    "task": task.key,
                    "outputs": outputs(directory),
                    "provenance_sha256": sha256_file(directory / "provenance.json"),
                    "finished": record["finished"],
                },
            )
    except TaskInterrupted as exc:
        _record_failure(directory, f"interrupted by {exc}; rerun to resume", interrupted=True)
        raise
    except Exception as exc:
        message = _describe(exc)
        _record_failure(directory, message, trace=traceback.format_exc())
        raise RankbindError(
            f"task {task.key} failed: {message} (details: {directory / FAILED})"
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            (directory / RUNNING).unlink()
    return "done"


def _plain(value):
    from rankbind.protocols.schema import to_data

    return to_data(value)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f" writing {exc.filename}" if exc.filename else ""
        return f"no space left on device{where}; free space and rerun (the task resumes)"
    if isinstance(exc, RankbindError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _record_failure(directory: Path, message: str, trace: str = "", interrupted: bool = False):
    with contextlib.suppress(OSError):  # the disk may be full
        write_json(
            directory / FAILED,
            {
                "error": message,
                "interrupted": interrupted,
                "traceback": trace,
                "host": socket.gethostname(),
                "slurm_job": os.environ.get("SLURM_JOB_ID"),
                "finished": now(),
            },
        )


# ---------------------------------------------------------------- the whole DAG here


class DevicePool:
    """Round-robin assignment of devices to tasks, one running task per device."""

    def __init__(self, devices: Iterable[str]):
        self.devices = [str(d) for d in devices]
        if not self.devices:
            raise ValueError("DevicePool needs at least one device")
        self.busy: set[str] = set()
        self._next = 0

    def acquire(self) -> str | None:
        """The next free device after the last one handed out, or None if all are busy."""
        n = len(self.devices)
        for k in range(n):
            device = self.devices[(self._next + k) % n]
            if device not in self.busy:
                self.busy.add(device)
                self._next = (self._next + k + 1) % n
                return device
        return None

    def release(self, device: str) -> None:
        self.busy.discard(device)


@dataclass
class RunSummary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)  # upstream failed
    devices: dict[str, str | None] = field(default_factory=dict)  # task key -> device

    @property
    def ok(self) -> bool:
        return not self.failed and not self.blocked


def task_command(run_dir: Path, stage: str, index: int | None) -> list[str]:
    """The command running one task in a fresh process; with ``index`` None the task
    index is read from $SLURM_ARRAY_TASK_ID (the sbatch scripts)."""
    cmd = [sys.executable, "-m", "rankbind.cli.task", str(run_dir), stage]
    return cmd if index is None else [*cmd, "--index", str(index)]


def python_path() -> list[str]:
    """This checkout, then this environment's PYTHONPATH entries made absolute (so that
    plugins importable here are importable in task processes and on compute nodes)."""
    entries = [str(REPO_ROOT)]
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry and str(Path(entry).resolve()) not in entries:
            entries.append(str(Path(entry).resolve()))
    return entries


def task_environment(device: str | None) -> dict[str, str]:
    """Environment of a task process: python_path(), and the assigned device if any."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(python_path())
    if device is not None:
        env["CUDA_VISIBLE_DEVICES"] = device
        env["RANKBIND_DEVICE"] = device
    return env


def _last_line(path: Path) -> str:
    """Last line of a task's log (its error when it failed before recording one)."""
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "failed (no log)"
    return lines[-1] if lines else "failed (empty log)"


def run_local(
    protocol: Protocol | str | Path,
    run_dir: str | Path,
    devices: list[str] | None = None,
    jobs: int = 1,
    poll: float = 0.1,
) -> RunSummary:
    """Run every incomplete task of ``protocol`` in ``run_dir`` on this machine.

    Without ``devices`` and with ``jobs == 1`` tasks run one by one in this process.
    Otherwise each task runs in its own process (the same entry point SLURM uses), at
    most ``len(devices)`` (or ``jobs``) at once; with ``devices`` each process gets one
    device round-robin via CUDA_VISIBLE_DEVICES. A failed task blocks its dependants
    only; independent tasks still run."""
    run_dir = Path(run_dir).resolve()
    plan = materialize(protocol, run_dir)
    summary = RunSummary()
    tasks = plan.tasks()
    state: dict[str, str] = {}  # key -> done | failed | blocked
    for task in tasks:
        if is_done(run_dir / task.directory, verify=True):
            state[task.key] = "done"
            summary.skipped.append(task.key)
    todo = [t for t in tasks if t.key not in state]

    def ready(task: Task) -> str | None:
        deps = [state.get(k) for k in task.deps]
        if any(s in ("failed", "blocked") for s in deps):
            return "blocked"
        return "ready" if all(s == "done" for s in deps) else None

    if devices is None and jobs == 1:
        for task in todo:
            if ready(task) == "blocked":
                state[task.key] = "blocked"
                summary.blocked.append(task.key)
                continue
            try:
                run_task(run_dir, task.stage, task.index)
                state[task.key] = "done"
                summary.done.append(task.key)
            except RankbindError as exc:
                state[task.key] = "failed"
                summary.failed[task.key] = str(exc)
        return summary

    pool = DevicePool(devices if devices else [f"slot{i}" for i in range(jobs)])
    running: dict[str, tuple[subprocess.Popen, str, Any]] = {}
    try:
        while todo or running:
            for key, (proc, device, log) in list(running.items()):
                if proc.poll() is None:
                    continue
                log.close()
                pool.release(device)
                del running[key]
                if proc.returncode == 0:
                    state[key] = "done"
                    summary.done.append(key)
                else:
                    state[key] = "failed"
                    marker = read_marker(run_dir / key, FAILED) or {}
                    summary.failed[key] = marker.get("error") or _last_line(run_dir / key / ".log")
            for task in list(todo):
                status = ready(task)
                if status == "blocked":
                    state[task.key] = "blocked"
                    summary.blocked.append(task.key)
                    todo.remove(task)
                    continue
                if status != "ready":
                    continue
                device = pool.acquire()
                if device is None:
                    break
                directory = run_dir / task.directory
                directory.mkdir(parents=True, exist_ok=True)
                log = open(directory / ".log", "a")
                env = task_environment(device if devices else None)
                proc = subprocess.Popen(
                    task_command(run_dir, task.stage, task.index),
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=run_dir,
                )
                running[task.key] = (proc, device, log)
                summary.devices[task.key] = device if devices else None
                todo.remove(task)
            time.sleep(poll)
    finally:
        for proc, _device, log in running.values():
            proc.terminate()
            proc.wait()
            log.close()
    return summary
