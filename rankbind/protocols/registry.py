"""Task kinds: the named steps a protocol stage can run.

A kind has a parameter schema (validated when a protocol is loaded), a phase (where
in the pipeline it belongs), default resources, tiny parameters (a smoke run) and a
function doing the work::

    register_task("simulate", run_production, stage="production",
                  resources=Resources(gpu=True, time="12:00:00"))

``function`` may also be a ``"package.module:function"`` string, imported when first
needed. The function is called as ``function(ctx: TaskContext) -> dict | None`` with its own
output directory ``ctx.directory``; it writes its outputs there (atomically, via
rankbind.fileio) and resumes from its own checkpoint when called again after an
interruption. The returned dict (JSON-serialisable) is stored in the task's provenance;
its ``outputs`` (name -> file relative to the task directory) are what downstream tasks
receive (rankbind.protocols.tasks.upstream).

The built-in kinds are data in :mod:`rankbind.protocols.kinds` (imported here, never the
other way round); plugins add theirs with :func:`register_task`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rankbind.errors import ProtocolError
from rankbind.protocols.kinds import BUILTIN, PHASES, Resources, TaskKind
from rankbind.protocols.schema import Record

__all__ = ["PHASES", "Resources", "TaskKind", "get_kind", "kinds", "register_task"]

_KINDS: dict[str, TaskKind] = {kind.name: kind for kind in BUILTIN}


def register_task(
    name: str,
    function: Callable[[Any], dict | None] | str | None,
    stage: str,
    resources: Resources | None = None,
    params: Record | None = None,
    doc: str = "",
    tiny: dict | None = None,
) -> TaskKind:
    """Register (or complete) task kind ``name``. Re-registering a known kind keeps
    its parameter schema, resources and tiny parameters unless given."""
    if stage not in PHASES:
        raise ProtocolError(
            f"task kind '{name}': stage '{stage}' is not one of {', '.join(PHASES)}"
        )
    old = _KINDS.get(name)
    kind = TaskKind(
        name=name,
        stage=stage,
        params=params if params is not None else (old.params if old else Record()),
        resources=resources if resources is not None else (old.resources if old else Resources()),
        function=function,
        doc=doc or (old.doc if old else ""),
        tiny=tiny if tiny is not None else (old.tiny if old else {}),
        requires=old.requires if old else (),
    )
    _KINDS[name] = kind
    return kind


def get_kind(name: str) -> TaskKind:
    """The kind called ``name``; ProtocolError listing the known kinds otherwise."""
    if name not in _KINDS:
        raise ProtocolError(f"unknown task kind '{name}' (known: {', '.join(sorted(_KINDS))})")
    return _KINDS[name]


def kinds() -> dict[str, TaskKind]:
    """All known kinds by name."""
    return dict(_KINDS)
