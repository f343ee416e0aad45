"""The state of every task in a run directory, from completion markers and, where
available, the SLURM queue (squeue; sacct when accounting is enabled)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from rankbind.protocols.runner import (
    CORRUPT,
    FAILED,
    FRESH,
    RUNNING,
    STALE,
    open_run,
    read_marker,
    task_state,
)
from rankbind.protocols.slurm import queue_states, submitted_jobs

STATES = ("done", "stale", "corrupt", "running", "failed", "pending")
QUEUED = ("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "SUSPENDED")


def _alive(marker: dict) -> bool:
    if marker.get("host") != socket.gethostname():
        return True  # another node: trust the marker (the queue overrides it when known)
    try:
        os.kill(int(marker["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return False
    return True


def task_states(run_dir: str | Path, verify: bool = True) -> dict[str, dict]:
    """task key -> {"stage", "index", "id", "state", "detail"}; state is one of STATES:
    done (complete, outputs match their checksums, inputs unchanged), stale (inputs or
    upstream outputs changed since it ran, or an upstream task is not done), corrupt (an
    output is missing or its checksum differs; ``verify`` False checks presence only),
    running, failed, pending. detail: why, the SLURM state, or the host running it."""
    run_dir = Path(run_dir)
    plan = open_run(run_dir)
    jobs = submitted_jobs(run_dir)
    queue = queue_states(list(jobs.values())) or {}
    out = {}
    memo: dict = {}
    for task in plan.tasks():
        directory = run_dir / task.directory
        slurm_state = queue.get((jobs.get(task.stage, ""), task.index))
        running = read_marker(directory, RUNNING)
        failed = read_marker(directory, FAILED)
        outputs_state, why = task_state(plan, task, run_dir, verify, memo)
        if outputs_state == FRESH:
            state, detail = "done", ""
        elif outputs_state in (STALE, CORRUPT) and not (
            slurm_state in ("RUNNING", "COMPLETING") or (running and _alive(running))
        ):
            state, detail = outputs_state, why
        elif slurm_state in ("RUNNING", "COMPLETING"):
            state, detail = "running", f"slurm {jobs[task.stage]}_{task.index}"
        elif running and _alive(running) and slurm_state is None:
            state, detail = "running", f"{running.get('host')} pid {running.get('pid')}"
        elif slurm_state in QUEUED:
            state, detail = "pending", f"slurm {slurm_state}"
            if failed:
                detail += f" (requeued after: {failed.get('error', '')})"
        elif failed:
            state, detail = "failed", failed.get("error", "")
            if slurm_state:
                detail += f" (slurm: {slurm_state})"
        elif slurm_state:
            state, detail = "failed", f"slurm {slurm_state}"
        elif task.stage in jobs and queue and slurm_state is None:
            state, detail = "failed", "left the SLURM queue incomplete (see slurm/logs)"
        else:
            state, detail = "pending", f"slurm {slurm_state}" if slurm_state else ""
        out[task.key] = {
            "stage": task.stage,
            "index": task.index,
            "id": task.id,
            "state": state,
            "detail": detail,
        }
    return out


def status(run_dir: str | Path) -> dict[str, dict[str, int]]:
    """stage -> {state: count} for every state in STATES."""
    summary: dict[str, dict[str, int]] = {}
    for info in task_states(run_dir).values():
        counts = summary.setdefault(info["stage"], dict.fromkeys(STATES, 0))
        counts[info["state"]] += 1
    return summary
