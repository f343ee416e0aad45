"""Provenance records: what produced a task's outputs, written beside them as
``provenance.json``."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import rankbind

SLURM_VARIABLES = (
    "SLURM_JOB_ID",
    "SLURM_ARRAY_JOB_ID",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_RESTART_COUNT",
    "SLURM_JOB_PARTITION",
    "SLURM_JOB_NODELIST",
    "SLURM_CLUSTER_NAME",
    "SLURM_JOB_GPUS",
    "SLURM_STEP_GPUS",
)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def software_versions() -> dict[str, str | None]:
    """Versions of Python and the libraries results depend on (None: not installed)."""
    return {
        "rankbind": rankbind.__version__,
        "rankbind_git_commit": _git_commit(),
        "python": platform.python_version(),
        "openmm": _version("openmm"),
        "pdbfixer": _version("pdbfixer"),
        "jax": _version("jax"),
        "jaxlib": _version("jaxlib"),
        "numpy": _version("numpy"),
        "mdtraj": _version("mdtraj"),
    }


def _git_commit() -> str | None:
    root = Path(rankbind.__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "rankbind"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("+dirty" if dirty else "")


def host_record(device: str | None) -> dict[str, Any]:
    """Machine, device assignment and scheduler context of this process."""
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python_executable": sys.executable,
        "pid": os.getpid(),
        "device": device,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "slurm": {k: os.environ[k] for k in SLURM_VARIABLES if k in os.environ},
    }


def structure_checksums(systems: dict[str, dict]) -> dict[str, dict[str, str]]:
    """system -> {input file: sha256} for the structures and sequences a system names.
    Inputs chosen while building (the Fab templates and sequences of a docked antibody)
    are recorded by the prepare task's own result."""
    from rankbind.fileio import sha256_file
    from rankbind.structures.catalogue import get_entry

    out: dict[str, dict[str, str]] = {}
    for name, system in systems.items():
        files = {}
        if "entry" in system:
            entry = get_entry(system["entry"])
            files[f"catalogue:{entry.name}:{entry.path.name}"] = sha256_file(entry.path)
        if "file" in system:
            files[system["file"]] = sha256_file(system["file"])
        for sequence in system.get("model", {}).get("sequences", {}).values():
            files[sequence] = sha256_file(sequence)
        out[name] = files
    return out
