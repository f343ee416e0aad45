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
import graphlib
import hashlib
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
from rankbind.fileio import exclusive_lock, sha256_file, write_json
from rankbind.interrupts import Interrupted, interruptible
from rankbind.protocols import provenance, registry
from rankbind.protocols.dag import Plan, Task, expand
from rankbind.protocols.protocol import Protocol, load_protocol, protocol_from_dict

DONE, RUNNING, FAILED = ".done", ".running", ".failed"
# what a completed-looking task directory can be (see task_state)
FRESH, STALE, CORRUPT, MISSING = "done", "stale", "corrupt", "missing"
REPO_ROOT = Path(__file__).resolve().parents[2]


TaskInterrupted = Interrupted  # SIGTERM/SIGINT/SIGUSR1 while a task ran


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


def inputs_digest(plan: Plan, task: Task, run_dir: Path) -> str:
    """sha256 of everything a task's outputs derive from: its kind, parameters, window,
    seed, the physics, its systems' definitions and input-file checksums, and the
    output checksums recorded in its upstream tasks' ``.done`` markers. Recorded in the
    task's ``.done``; a different value now means the task is stale."""
    resolved = plan.protocol.resolved
    stage = plan.protocol.stage(task.stage)
    windows = stage.get("windows")
    systems = (
        resolved["systems"]
        if task.system is None
        else {task.system: resolved["systems"][task.system]}
    )
    upstream = {}
    by_key = plan.by_key()
    for key in task.deps:
        marker = read_marker(run_dir / by_key[key].directory, DONE) or {}
        upstream[key] = marker.get("outputs")
    try:
        structures = provenance.structure_checksums(systems)
    except (OSError, RankbindError) as exc:
        structures = {"unreadable": str(exc)[:200]}
    data = {
        "kind": task.kind,
        "params": _plain(stage["params"]),
        "window": _plain(windows[task.window]) if task.window is not None else None,
        "seed": task.seed,
        "physics": _plain(resolved["physics"]),
        "systems": _plain(systems),
        "structures": structures,
        "upstream": upstream,
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def task_state(
    plan: Plan, task: Task, run_dir: Path, verify: bool = True, _memo: dict | None = None
) -> tuple[str, str]:
    """(state, detail) of a task's outputs: FRESH (complete and up to date), STALE (its
    inputs or an upstream task's outputs changed, or an upstream task is not FRESH),
    CORRUPT (an output is missing or, with ``verify``, no longer has its recorded
    checksum) or MISSING (never completed)."""
    memo = {} if _memo is None else _memo
    if task.key not in memo:
        memo[task.key] = _task_state(plan, task, Path(run_dir), verify, memo)
    return memo[task.key]


def _task_state(plan: Plan, task: Task, run_dir: Path, verify: bool, memo: dict):
    directory = run_dir / task.directory
    marker = read_marker(directory, DONE)
    if marker is None:
        return MISSING, ""
    for rel, digest in marker.get("outputs", {}).items():
        path = directory / rel
        if not path.is_file():
            return CORRUPT, f"output {rel} is missing"
        if verify and sha256_file(path) != digest:
            return CORRUPT, f"output {rel} does not match its recorded sha256"
    by_key = plan.by_key()
    for key in task.deps:
        up_state, _ = task_state(plan, by_key[key], run_dir, verify, memo)
        if up_state != FRESH:
            return STALE, f"upstream {key} is {up_state}"
    if marker.get("inputs_sha256") != inputs_digest(plan, task, run_dir):
        return STALE, "inputs or upstream outputs changed since it ran"
    return FRESH, ""


def pending_tasks(plan: Plan, run_dir: Path, verify: bool = False) -> list[Task]:
    """Tasks that are not complete and up to date, and everything downstream of them,
    in plan order (what a resubmission must run)."""
    run_dir = Path(run_dir)
    memo: dict = {}
    todo = [t.key for t in plan.tasks() if task_state(plan, t, run_dir, verify, memo)[0] != FRESH]
    keys = plan.dependants(todo)
    return [t for t in plan.tasks() if t.key in keys]


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


def _signals_interrupt():
    """SIGTERM (SLURM timeout, scancel), SIGUSR1 (pre-emption) and SIGINT raise
    TaskInterrupted, so atomic writes in progress are discarded and no completion marker
    is written."""
    return interruptible()


def run_task(run_dir: str | Path, stage: str, index: int | str, device: str | None = None) -> str:
    """Run task ``index`` (array index, or task id when a str) of ``stage`` unless it is
    complete and up to date. Idempotent: a fresh task is skipped ("skipped"); a missing,
    stale or corrupt one is (re)started in its own directory, where its function resumes
    from its checkpoint ("done").

    Raises RankbindError naming the task when it fails, TaskInterrupted on a signal."""
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
    except OSError as exc:
        raise RankbindError(f"task {key}: cannot create {directory}: {_describe(exc)}") from None
    with exclusive_lock(directory / ".lock", f"task {key}"):
        yield


def _run_locked(plan: Plan, task: Task, run_dir: Path, directory: Path, device: str | None) -> str:
    by_key = plan.by_key()
    upstream = {k: task_state(plan, by_key[k], run_dir, verify=False)[0] for k in task.deps}
    missing = [f"{k} ({state})" for k, state in upstream.items() if state != FRESH]
    if missing:
        raise ProtocolError(f"task {task.key}: upstream task(s) not complete: {', '.join(missing)}")
    state, _ = task_state(plan, task, run_dir)
    if state == FRESH:
        return "skipped"
    if state in (STALE, CORRUPT):  # redo from scratch: its checkpoints belong to the old run
        _clear(directory)
    try:
        function = registry.get_kind(task.kind).implementation()
    except ProtocolError as exc:
        raise ProtocolError(f"task {task.key}: {exc}") from None
    ctx = _context(plan, task, run_dir, device)
    digest = inputs_digest(plan, task, run_dir)
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
                    "inputs_sha256": digest,
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


def _clear(directory: Path) -> None:
    """Remove a task directory's contents except its lock and log (.done first)."""
    with contextlib.suppress(FileNotFoundError):
        (directory / DONE).unlink()
    for path in directory.iterdir():
        if path.name in (".lock", ".log"):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


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


def task_command(run_dir: Path, stage: str, index: int | str | None) -> list[str]:
    """The command running one task in a fresh process: by array index (int), by task
    id (str), or with ``index`` None from $SLURM_ARRAY_TASK_ID (the sbatch scripts)."""
    cmd = [sys.executable, "-m", "rankbind.cli.task", str(run_dir), stage]
    if index is None:
        return cmd
    return [*cmd, "--id", index] if isinstance(index, str) else [*cmd, "--index", str(index)]


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
    progress=None,
) -> RunSummary:
    """Run every task of ``protocol`` in ``run_dir`` on this machine that is not complete
    and up to date (missing, stale, corrupt), and everything downstream of it.

    Without ``devices`` and with ``jobs == 1`` tasks run one by one in this process.
    Otherwise each task runs in its own process (the same entry point SLURM uses), at
    most ``len(devices)`` (or ``jobs``) at once; with ``devices`` each process gets one
    device round-robin via CUDA_VISIBLE_DEVICES. A failed task blocks its dependants
    only; independent tasks still run. The ready set comes from graphlib, so the order
    the protocol lists stages and systems in does not matter.

    SIGTERM, SIGINT and SIGUSR1 stop the run: running task processes get SIGTERM (they
    checkpoint and exit; SIGKILL after ``TERM_GRACE_S``), and TaskInterrupted is raised.
    ``progress``: a callable(done, total, message) (default: a TaskProgress on stderr)."""
    run_dir = Path(run_dir).resolve()
    plan = materialize(protocol, run_dir)
    with interruptible():
        return _run_local(plan, run_dir, devices, jobs, poll, progress)


TERM_GRACE_S = 30.0


def _run_local(plan: Plan, run_dir: Path, devices, jobs: int, poll: float, progress):
    from rankbind.progress import TaskProgress

    summary = RunSummary()
    by_key = plan.by_key()
    sorter = graphlib.TopologicalSorter(plan.graph())
    sorter.prepare()
    state: dict[str, str] = {}  # key -> done | failed | blocked
    report = progress or TaskProgress(len(by_key))
    queue: list[Task] = []

    def settle(key: str, outcome: str, message: str = "") -> None:
        state[key] = "failed" if outcome == "failed" else outcome
        if outcome == "done":
            summary.done.append(key)
        elif outcome == "skipped":
            state[key] = "done"
            summary.skipped.append(key)
        elif outcome == "failed":
            summary.failed[key] = message
        elif outcome == "blocked":
            summary.blocked.append(key)
        sorter.done(key)
        report(len(state), len(by_key), f"{key} {outcome}")

    def take_ready() -> None:
        for key in sorter.get_ready():
            task = by_key[key]
            if any(state.get(k) in ("failed", "blocked") for k in task.deps):
                settle(key, "blocked")
            elif task_state(plan, task, run_dir)[0] == FRESH:
                settle(key, "skipped")
            else:
                queue.append(task)

    if devices is None and jobs == 1:
        while sorter.is_active():
            take_ready()
            while queue:
                task = queue.pop(0)
                report(len(state), len(by_key), f"{task.key} running")
                try:
                    outcome = run_task(run_dir, task.stage, task.id)
                    settle(task.key, "done" if outcome == "done" else "skipped")
                except RankbindError as exc:
                    settle(task.key, "failed", str(exc))
        return summary

    pool = DevicePool(devices if devices else [f"slot{i}" for i in range(jobs)])
    running: dict[str, tuple[subprocess.Popen, str, Any]] = {}
    try:
        while sorter.is_active():
            for key, (proc, device, log) in list(running.items()):
                if proc.poll() is None:
                    continue
                log.close()
                pool.release(device)
                del running[key]
                if proc.returncode == 0:
                    settle(key, "done")
                else:
                    marker = read_marker(run_dir / key, FAILED) or {}
                    settle(key, "failed", marker.get("error") or _last_line(run_dir / key / ".log"))
            take_ready()
            while queue:
                device = pool.acquire()
                if device is None:
                    break
                task = queue.pop(0)
                directory = run_dir / task.directory
                directory.mkdir(parents=True, exist_ok=True)
                log = open(directory / ".log", "a")
                env = task_environment(device if devices else None)
                proc = subprocess.Popen(
                    task_command(run_dir, task.stage, task.id),
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=run_dir,
                )
                running[task.key] = (proc, device, log)
                summary.devices[task.key] = device if devices else None
                report(len(state), len(by_key), f"{task.key} started")
            time.sleep(poll)
    finally:
        _stop_children(running)
    return summary


def _stop_children(running: dict) -> None:
    """SIGTERM every running task process, wait for all (they checkpoint and exit within
    seconds), SIGKILL any still alive after TERM_GRACE_S: no orphans."""
    for proc, _device, _log in running.values():
        with contextlib.suppress(OSError):
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + TERM_GRACE_S
    for proc, _device, log in running.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
