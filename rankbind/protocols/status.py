"""The state of every task in a run directory, from completion markers and, where
available, the SLURM queue (squeue; sacct when accounting is enabled)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from rankbind.protocols.runner import FAILED, RUNNING, is_done, open_run, read_marker
from rankbind.protocols.slurm import queue_states, submitted_jobs

STATES = ("done", "running", "failed", "pending")
QUEUED = ("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "SUSPENDED")


def _alive(marker: dict) -> bool:
    if marker.get("host") != socket.gethostname():
        return True  # another node: trust the marker (the queue overrides it when known)
    try:
        os.kill(int(marker["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return False
    return True


def task_states(run_dir: str | Path) -> dict[str, dict]:
    """task key -> {"stage", "index", "state", "detail"}; state is one of STATES.
    detail: the SLURM state, the failure message, or the host running it."""
    run_dir = Path(run_dir)
    plan = open_run(run_dir)
    jobs = submitted_jobs(run_dir)
    queue = queue_states(list(jobs.values())) or {}
    out = {}
    for task in plan.tasks():
        directory = run_dir / task.directory
        slurm_state = queue.get((jobs.get(task.stage, ""), task.index))
        running = read_marker(directory, RUNNING)
        failed = read_marker(directory, FAILED)
        if is_done(directory):
            state, detail = "done", ""
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
        out[task.key] = {"stage": task.stage, "index": task.index, "state": state, "detail": detail}
    return out


def status(run_dir: str | Path) -> dict[str, dict[str, int]]:
    """stage -> {state: count} for every state in STATES."""
    summary: dict[str, dict[str, int]] = {}
    for info in task_states(run_dir).values():
        counts = summary.setdefault(info["stage"], dict.fromkeys(STATES, 0))
        counts[info["state"]] += 1
    return summary
