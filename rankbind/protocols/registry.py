"""Task kinds: the named steps a protocol stage can run.

A kind has a parameter schema (validated when a protocol is loaded), a phase (where
in the pipeline it belongs), default resources, and a function doing the work::

    register_task("simulate", run_production, stage="production",
                  resources=Resources(gpu=True, time="12:00:00"))

``function`` may also be a ``"package.module:function"`` string, imported when first
needed. The function is called as ``function(ctx: TaskContext) -> dict | None`` with its own
output directory ``ctx.directory``; it writes its outputs there (atomically, via
rankbind.fileio) and resumes from its own checkpoint when called again after an
interruption. The returned dict (JSON-serialisable) is stored in the task's provenance.
A kind may be declared (schema only) before its function exists: protocols using it
validate, and running it says that no implementation is registered.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rankbind.errors import ProtocolError
from rankbind.protocols.schema import Record

PHASES = ("prepare", "equilibrate", "production", "analysis", "report")
_TIME = re.compile(r"^(\d+-)?\d{1,2}:\d{2}(:\d{2})?$|^\d+$")


@dataclass(frozen=True)
class Resources:
    """What one task of a kind needs. ``time`` is a SLURM time limit (``HH:MM:SS``,
    ``D-HH:MM:SS`` or minutes); ``memory`` a SLURM memory string such as ``4G``."""

    gpu: bool = False
    cpus: int = 1
    time: str = "01:00:00"
    memory: str | None = None

    def __post_init__(self):
        if not _TIME.match(self.time):
            raise ProtocolError(
                f"resources.time '{self.time}' is not HH:MM:SS, D-HH:MM:SS or minutes"
            )
        if self.memory is not None and not re.fullmatch(r"\d+[KMGT]?", self.memory):
            raise ProtocolError(f"resources.memory '{self.memory}' is not like 4G or 500M")
        if self.cpus < 1:
            raise ProtocolError(f"resources.cpus must be >= 1, got {self.cpus}")


@dataclass
class TaskKind:
    """``function``: a callable, or ``"package.module:function"`` imported when the first
    task of the kind runs (keeps validation light and avoids import cycles)."""

    name: str
    stage: str
    params: Record = field(default_factory=Record)
    resources: Resources = field(default_factory=Resources)
    function: Callable[[Any], dict | None] | str | None = None
    doc: str = ""

    def implementation(self) -> Callable[[Any], dict | None]:
        """The task function; ProtocolError if none is registered or it cannot be imported."""
        if self.function is None:
            raise ProtocolError(
                f"task kind '{self.name}' has no implementation registered "
                "(register_task(name, function, stage=...) in rankbind/protocols/kinds.py "
                "or a plugin)"
            )
        if callable(self.function):
            return self.function
        module, _, attribute = self.function.partition(":")
        try:
            return getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as exc:
            raise ProtocolError(
                f"task kind '{self.name}': cannot load '{self.function}': {exc}"
            ) from None


_KINDS: dict[str, TaskKind] = {}


def register_task(
    name: str,
    function: Callable[[Any], dict | None] | str | None,
    stage: str,
    resources: Resources | None = None,
    params: Record | None = None,
    doc: str = "",
) -> TaskKind:
    """Register (or complete) task kind ``name``. Re-registering a declared kind keeps
    its parameter schema unless ``params`` is given."""
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
    )
    _KINDS[name] = kind
    return kind


def declare_task(name: str, stage: str, params: Record, resources: Resources, doc: str) -> None:
    """Declare a kind's schema without an implementation (keeps a registered function)."""
    old = _KINDS.get(name)
    _KINDS[name] = TaskKind(name, stage, params, resources, old.function if old else None, doc)


def get_kind(name: str) -> TaskKind:
    """The kind called ``name``; ProtocolError listing the known kinds otherwise."""
    _load_builtin()
    if name not in _KINDS:
        raise ProtocolError(f"unknown task kind '{name}' (known: {', '.join(sorted(_KINDS))})")
    return _KINDS[name]


def kinds() -> dict[str, TaskKind]:
    """All declared or registered kinds by name."""
    _load_builtin()
    return dict(_KINDS)


def _load_builtin() -> None:
    import rankbind.protocols.kinds  # noqa: F401  (declares the science kinds)
