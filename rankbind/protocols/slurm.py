"""SLURM submission: one job array per stage, chained with ``--dependency=afterok``.

Each array task runs ``python -m rankbind.protocols.task_cli RUN_DIR STAGE --index
$SLURM_ARRAY_TASK_ID`` with the submitting interpreter (``sys.executable``) and this
checkout on PYTHONPATH, so an uninstalled checkout works. Jobs are ``--requeue``-able
and the task runner is idempotent: a requeued task (time limit, preemption, node
failure) skips completed work and resumes from its checkpoint.

Nothing from a protocol or the command line reaches a shell unquoted: sbatch options
are passed as an argument vector (no shell), and every word of the script body is
``shlex.quote``d.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from rankbind.errors import RankbindError
from rankbind.fileio import write_json, write_text
from rankbind.protocols import registry
from rankbind.protocols.dag import Plan
from rankbind.protocols.protocol import Protocol
from rankbind.protocols.runner import materialize, pending_tasks, python_path, task_command


class SlurmError(RankbindError):
    """sbatch/squeue failed or is unavailable."""


@dataclass
class SlurmOptions:
    """Cluster settings; None means: the protocol's ``slurm`` block, else SLURM's default.
    ``time`` overrides every stage's resources.time."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    gres: str | None = None
    time: str | None = None
    array_throttle: int | None = None
    sbatch: str = "sbatch"


def _merged(protocol: Protocol, options: SlurmOptions) -> dict:
    settings = dict(protocol.resolved.get("slurm", {}))
    for key, value in asdict(options).items():
        if value is not None and key != "sbatch":
            settings[key] = value
    return settings


def stage_resources(protocol: Protocol, stage: str) -> registry.Resources:
    """The kind's default resources overridden by the stage's ``resources`` block."""
    spec = protocol.stage(stage)
    base = registry.get_kind(spec["task"]).resources
    return registry.Resources(**{**asdict(base), **spec.get("resources", {})})


def array_spec(indices: list[int], throttle: int | None) -> str:
    """SLURM --array value, e.g. ``0-3,7%2``."""
    parts, start = [], None
    for k, i in enumerate(indices):
        if start is None:
            start = i
        if k + 1 == len(indices) or indices[k + 1] != i + 1:
            parts.append(str(start) if start == i else f"{start}-{i}")
            start = None
    return ",".join(parts) + (f"%{throttle}" if throttle else "")


def sbatch_script(run_dir: Path, stage: str) -> str:
    """The batch script of one stage. Every interpolated word is shell-quoted; the task
    index comes from $SLURM_ARRAY_TASK_ID inside the task runner, not the shell."""
    command = " ".join(shlex.quote(w) for w in task_command(run_dir, stage, None))
    path = ":".join(shlex.quote(p) for p in python_path())
    return "\n".join(
        [
            "#!/bin/bash",
            "# rankbind stage job array: one task per array index (idempotent, resumable).",
            "set -euo pipefail",
            f"export PYTHONPATH={path}",
            f"cd {shlex.quote(str(run_dir))}",
            f"exec {command}",
            "",
        ]
    )


def sbatch_command(
    protocol: Protocol,
    run_dir: Path,
    stage: str,
    indices: list[int],
    after: list[str],
    options: SlurmOptions,
) -> list[str]:
    """The sbatch argument vector for one stage's array."""
    settings = _merged(protocol, options)
    resources = stage_resources(protocol, stage)
    logs = run_dir / "slurm" / "logs"
    cmd = [
        options.sbatch,
        "--parsable",
        "--requeue",
        "--open-mode=append",
        "--signal=B:USR1@120",  # 2 min before the time limit: checkpoint and stop
        f"--job-name=rb-{protocol.name}-{stage}",
        f"--array={array_spec(indices, settings.get('array_throttle'))}",
        f"--output={logs / f'{stage}-%A_%a.out'}",
        f"--chdir={run_dir}",
        f"--cpus-per-task={resources.cpus}",
        f"--time={settings.get('time') or resources.time}",
    ]
    if resources.memory:
        cmd.append(f"--mem={resources.memory}")
    if resources.gpu and settings.get("gres"):
        cmd.append(f"--gres={settings['gres']}")
    for key in ("partition", "account", "qos"):
        if settings.get(key):
            cmd.append(f"--{key}={settings[key]}")
    if after:
        cmd += [f"--dependency=afterok:{':'.join(after)}", "--kill-on-invalid-dep=yes"]
    cmd.append(str(run_dir / "slurm" / f"{stage}.sbatch"))
    return cmd


def submit_slurm(
    protocol: Protocol | str | Path,
    run_dir: str | Path,
    options: SlurmOptions | None = None,
    dry_run: bool = False,
) -> dict[str, str]:
    """Write one sbatch script per stage with tasks to run (missing, stale or corrupt
    ones and their dependants, by the run directory's stable task indices) and submit
    them as job arrays chained by afterok. Returns stage -> job id; with ``dry_run`` nothing is
    submitted and the ids are placeholders ``<stage>``.
    The submissions are appended to ``RUN_DIR/slurm/jobs.json``."""
    options = options or SlurmOptions()
    run_dir = Path(run_dir).resolve()
    if "%" in str(run_dir) or "\\" in str(run_dir):
        raise SlurmError(f"run directory {run_dir}: '%' and '\\' are SLURM filename patterns")
    plan: Plan = materialize(protocol, run_dir)
    if not dry_run and shutil.which(options.sbatch) is None:
        raise SlurmError(f"'{options.sbatch}' not found: is this a SLURM login node?")
    active = _active_jobs(run_dir)
    if active and not dry_run:
        raise SlurmError(
            f"{run_dir} still has queued or running jobs ({', '.join(active)}); wait for them "
            "or scancel them before resubmitting"
        )
    (run_dir / "slurm" / "logs").mkdir(parents=True, exist_ok=True)
    jobs: dict[str, str] = {}
    commands: dict[str, list[str]] = {}
    pending = {t.key for t in pending_tasks(plan, run_dir)}
    for stage_spec in plan.protocol.resolved["stages"]:
        stage = stage_spec["name"]
        indices = [t.index for t in plan.stages[stage] if t.key in pending]
        if not indices:
            continue
        write_text(run_dir / "slurm" / f"{stage}.sbatch", sbatch_script(run_dir, stage))
        after = [jobs[s] for s in stage_spec["after"] if s in jobs]
        cmd = sbatch_command(plan.protocol, run_dir, stage, indices, after, options)
        commands[stage] = cmd
        if dry_run:
            jobs[stage] = f"<{stage}>"
            continue
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SlurmError(f"sbatch for stage '{stage}' failed: {exc}") from None
        if out.returncode != 0:
            _cancel(list(jobs.values()))
            raise SlurmError(
                f"sbatch for stage '{stage}' failed (exit {out.returncode}): "
                f"{out.stderr.strip() or out.stdout.strip()}; "
                f"cancelled the stages submitted before it"
            )
        jobs[stage] = out.stdout.strip().split(";")[0]
    if not dry_run:
        history = _read_jobs(run_dir)
        history.append({"jobs": jobs, "commands": commands})
        write_json(run_dir / "slurm" / "jobs.json", history)
    return jobs


def _active_jobs(run_dir: Path) -> list[str]:
    """Array tasks of earlier submissions to ``run_dir`` still pending or running."""
    jobs = submitted_jobs(run_dir)
    states = queue_states(list(jobs.values())) or {}
    return sorted(
        f"{job}_{index}"
        for (job, index), state in states.items()
        if state in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "SUSPENDED")
    )


def _cancel(job_ids: list[str]) -> None:
    if job_ids:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["scancel", *job_ids], capture_output=True, timeout=30)


def _read_jobs(run_dir: Path) -> list[dict]:
    try:
        return json.loads((run_dir / "slurm" / "jobs.json").read_text())
    except (OSError, json.JSONDecodeError):
        return []


def submitted_jobs(run_dir: str | Path) -> dict[str, str]:
    """stage -> most recent job id submitted for it."""
    out: dict[str, str] = {}
    for entry in _read_jobs(Path(run_dir)):
        out.update(entry["jobs"])
    return out


_ARRAY_ID = re.compile(r"^(?P<job>\d+)_(?P<index>\d+)$")


def queue_states(job_ids: list[str]) -> dict[tuple[str, int], str] | None:
    """(array job id, index) -> state from squeue (pending/running) and, where accounting
    is enabled, sacct (completed/failed/...). None when squeue is unavailable."""
    if not job_ids or shutil.which("squeue") is None:
        return None
    states: dict[tuple[str, int], str] = {}
    sacct = _run(["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(job_ids)])
    for line in (sacct or "").splitlines():
        job, _, state = line.partition("|")
        match = _ARRAY_ID.match(job)
        if match:
            states[(match["job"], int(match["index"]))] = state.split()[0]
    squeue = _run(["squeue", "-h", "-r", "-t", "all", "-o", "%i|%T"])
    if squeue is None:
        return states or None
    for line in squeue.splitlines():
        job, _, state = line.partition("|")
        match = _ARRAY_ID.match(job.strip())
        if match and match["job"] in job_ids:
            states[(match["job"], int(match["index"]))] = state.strip()
    return states


def _run(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None
