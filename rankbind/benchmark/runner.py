"""Resumable case-by-case execution of a benchmark.

Every case writes ``<out>/cases/<case id>.json`` atomically (result, CPU and wall time,
settings hash, status). A case whose file exists with the same settings hash is skipped, so
an interrupted run continues where it stopped and a finished run is cheap to repeat. A case
that fails is recorded with its error and the run goes on (retried on the next run).
Progress: :class:`rankbind.progress.Progress` (tqdm bar on a terminal, plain lines at
most every RANKBIND_PROGRESS_INTERVAL_S seconds otherwise); failed cases print their error.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rankbind.fileio import write_json
from rankbind.progress import Progress


def settings_hash(settings: dict) -> str:
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Task:
    """One unit of work: ``case_id`` names its result file; ``payload`` is passed to the
    case function."""

    case_id: str
    payload: object


def case_path(out_dir: str | Path, case_id: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in case_id)
    return Path(out_dir) / "cases" / f"{safe}.json"


def load_case(out_dir: str | Path, case_id: str, digest: str | None = None) -> dict | None:
    path = case_path(out_dir, case_id)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    if digest is not None and data.get("settings_hash") != digest:
        return None
    return data


def run_one(task: Task, fn: Callable, settings: dict, out_dir: str | Path, **kwargs) -> dict:
    """Run one case (or return its stored result) and store it atomically."""
    digest = settings_hash(settings)
    done = load_case(out_dir, task.case_id, digest)
    if done is not None and done.get("status") == "ok":
        done["skipped"] = True
        return done
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        result = fn(task.payload, **kwargs)
        status, error = "ok", None
    except Exception as exc:  # recorded, the run continues with the next case
        result = {}
        status = "error"
        error = f"{type(exc).__name__}: {exc}"
        tail = traceback.format_exc().strip().splitlines()[-3:]
        error += " | " + " / ".join(t.strip() for t in tail)
    data = {
        "case_id": task.case_id,
        "status": status,
        "error": error,
        "cpu_s": round(time.process_time() - cpu0, 2),
        "wall_s": round(time.perf_counter() - wall0, 2),
        "settings_hash": digest,
        "result": result,
    }
    write_json(case_path(out_dir, task.case_id), data)
    return data


def run_tasks(
    tasks: Sequence[Task],
    fn: Callable,
    settings: dict,
    out_dir: str | Path,
    label: str = "benchmark",
    stream=None,
    **kwargs,
) -> list[dict]:
    """Run ``tasks`` in order, resumably; returns the per-case records."""
    out = []
    with Progress(label, len(tasks), stream, unit="cases") as progress:
        for task in tasks:
            record = run_one(task, fn, settings, out_dir, **kwargs)
            out.append(record)
            if record.get("skipped"):
                progress.initial += 1  # done before this run: not part of the rate
                state = "skipped (done)"
            else:
                state = f"{record['status']}, cpu {record['cpu_s']:.1f} s"
            if record["status"] != "ok":
                progress.write(f"[{label}] {task.case_id}: {record['error'][:200]}")
            progress.advance(1, f"{task.case_id}: {state}")
    return out
