"""Protocols as data: YAML files validated against a schema, expanded into a task DAG,
run locally (``run_local``) or as SLURM job arrays (``submit_slurm``) with the same
idempotent task runner, completion markers and provenance records."""

from rankbind.protocols.dag import Plan, Task, expand
from rankbind.protocols.protocol import Protocol, load_protocol, protocol_from_dict
from rankbind.protocols.registry import Resources, TaskKind, get_kind, kinds, register_task
from rankbind.protocols.runner import (
    DevicePool,
    RunSummary,
    TaskContext,
    materialize,
    open_run,
    run_local,
    run_task,
)
from rankbind.protocols.slurm import SlurmOptions, submit_slurm
from rankbind.protocols.status import status, task_states

__all__ = [
    "DevicePool",
    "Plan",
    "Protocol",
    "Resources",
    "RunSummary",
    "Task",
    "TaskContext",
    "TaskKind",
    "expand",
    "get_kind",
    "kinds",
    "load_protocol",
    "materialize",
    "open_run",
    "protocol_from_dict",
    "register_task",
    "run_local",
    "run_task",
    "SlurmOptions",
    "status",
    "submit_slurm",
    "task_states",
]
