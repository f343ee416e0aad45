"""Resumable case-by-case execution of a benchmark.

Every case writes ``<out>/cases/<case id>.json`` atomically (result, CPU and wall time,
status, the settings it was produced with and their hash). A finished case is reused only
when it was produced with the same settings, so an interrupted run continues where it
stopped and a finished run is cheap to repeat, while a run under changed settings redoes
the case. The hash covers only the settings that differ from their defaults
(:func:`non_default`), so a settings field added later with a behaviour-preserving default
keeps finished cases valid. Reuse is decided on the full settings stored in the file,
value by value (:func:`mismatch`), so a changed default redoes the case too, while a run
that states the old value explicitly reuses it. A case that fails
is recorded with its error and the run goes on (retried on the next run).
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


def canonical(value):
    """``value`` in the canonical form of a settings hash: JSON types (tuples as lists,
    other objects as strings), integral floats as ints (2.0 and 2 hash alike)."""
    value = json.loads(json.dumps(value, default=str))
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def non_default(settings: dict, defaults: dict) -> dict:
    """The entries of ``settings`` that differ from ``defaults`` (recursively into nested
    dicts), canonical: what a resume key must cover."""
    out = {}
    for key, value in settings.items():
        default = defaults.get(key)
        if isinstance(value, dict) and isinstance(default, dict | None):
            changed = non_default(value, default or {})
            if changed:
                out[key] = changed
        elif key not in defaults or canonical(value) != canonical(default):
            out[key] = canonical(value)
    return out


def settings_hash(settings: dict, defaults: dict) -> str:
    """Hash of the settings that differ from ``defaults`` (see :func:`non_default`)."""
    text = json.dumps(non_default(settings, defaults), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _legacy_hash(settings: dict) -> str:
    # case files written before settings were stored hashed the full settings dict
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Settings removed since, which did nothing, with the value every legacy case file had: the
# affinity/ΔΔG settings' unused ``extra`` dict (dropped in ad35d0e), hashed into the
# accuracy runs' case files. A legacy hash matches with or without them.
REMOVED_NO_OPS = {"extra": {}}


def conflicts(stored: dict, current: dict, prefix: str = "") -> list[str]:
    """Dotted keys present in both settings dicts with different values."""
    out = []
    for key in stored.keys() & current.keys():
        a, b = stored[key], current[key]
        if isinstance(a, dict) and isinstance(b, dict):
            out += conflicts(a, b, f"{prefix}{key}.")
        elif canonical(a) != canonical(b):
            out.append(f"{prefix}{key}: {a!r} (case) vs {b!r} (now)")
    return sorted(out)


def _added(stored: dict, current: dict, defaults: dict, prefix: str = "") -> list[str]:
    """Dotted keys of ``current`` absent from ``stored`` whose value is not their default
    (a field added since the case ran, set to something else than what the case did)."""
    out = []
    for key, value in current.items():
        default = defaults.get(key) if isinstance(defaults, dict) else None
        if key not in stored:
            if canonical(value) != canonical(default):
                out.append(f"{prefix}{key}: absent (case) vs {value!r} (now)")
        elif isinstance(value, dict) and isinstance(stored[key], dict):
            out += _added(stored[key], value, default or {}, f"{prefix}{key}.")
    return out


def mismatch(data: dict, settings: dict, defaults: dict) -> str | None:
    """Why the case record ``data`` was not produced with ``settings`` (None if it was).

    With stored settings the comparison is value by value: every key both have must
    agree, and a key added since must be at its default. So a new field with a
    behaviour-preserving default keeps the case, and a changed default redoes it, unless
    the run states the case's value explicitly. Older files are matched by their hash of
    the full settings dict."""
    if "settings" not in data:
        if data.get("settings_hash") in (_legacy_hash(settings),
                                         _legacy_hash(REMOVED_NO_OPS | settings)):  # fmt: skip
            return None
        return "settings hash differs (case file without stored settings)"
    changed = conflicts(data["settings"], settings) + _added(data["settings"], settings, defaults)
    return "settings differ: " + "; ".join(sorted(changed)) if changed else None


@dataclass(frozen=True)
class Task:
    """One unit of work: ``case_id`` names its result file; ``payload`` is passed to the
    case function."""

    case_id: str
    payload: object


def case_path(out_dir: str | Path, case_id: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in case_id)
    return Path(out_dir) / "cases" / f"{safe}.json"


def read_case(out_dir: str | Path, case_id: str) -> dict | None:
    """The stored record of a case (None if absent or unreadable)."""
    path = case_path(out_dir, case_id)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def load_case(out_dir: str | Path, case_id: str, settings: dict, defaults: dict) -> dict | None:
    """The stored record of a case if it was produced with ``settings``, else None."""
    data = read_case(out_dir, case_id)
    if data is None or mismatch(data, settings, defaults) is not None:
        return None
    return data


def run_one(
    task: Task, fn: Callable, settings: dict, defaults: dict, out_dir: str | Path, **kwargs
) -> dict:
    """Run one case (or return its stored result when finished with the same settings)
    and store it atomically. ``settings``/``defaults``: the case's settings dict and the
    same dict for default settings (the resume key is their difference)."""
    done = load_case(out_dir, task.case_id, settings, defaults)
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
        "settings_hash": settings_hash(settings, defaults),
        "settings": canonical(settings),
        "result": result,
    }
    write_json(case_path(out_dir, task.case_id), data)
    return data


def run_tasks(
    tasks: Sequence[Task],
    fn: Callable,
    settings: dict,
    defaults: dict,
    out_dir: str | Path,
    label: str = "benchmark",
    stream=None,
    **kwargs,
) -> list[dict]:
    """Run ``tasks`` in order, resumably; returns the per-case records."""
    out = []
    with Progress(label, len(tasks), stream, unit="cases") as progress:
        for task in tasks:
            record = run_one(task, fn, settings, defaults, out_dir, **kwargs)
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
