"""Expansion of a protocol into a DAG of tasks.

Each stage becomes an ordered list of tasks (its SLURM array): one per system it runs
over (or one for ``over: all``), times replicas, times windows. A task is named by its
stage and id (system, replica, window), never by position: systems are taken in sorted
name order, so a task's index (its SLURM array index) is the same however the protocol
lists its systems, and the same when a run directory is reopened from protocol.json. A task depends on the
tasks of each upstream stage that share its system (all of them when either side runs
over all systems), and, when both stages have the same number of replicas, the same
replica. Task directories are ``RUN_DIR/<stage>/<task id>``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from rankbind.protocols.protocol import Protocol


@dataclass(frozen=True)
class Task:
    stage: str
    index: int  # position in the stage (SLURM_ARRAY_TASK_ID)
    id: str  # unique within the stage, e.g. "rankl_rank-r2" or "rankl_rank-w05"
    kind: str
    system: str | None  # None for over: all
    replica: int
    window: int | None
    seed: int
    deps: tuple[str, ...] = field(default=())  # keys "stage/id" of upstream tasks

    @property
    def key(self) -> str:
        return f"{self.stage}/{self.id}"

    @property
    def directory(self) -> str:
        """Path of the task's output directory relative to the run directory."""
        return self.key


@dataclass(frozen=True)
class Plan:
    protocol: Protocol
    stages: dict[str, list[Task]]  # in protocol order

    def task(self, stage: str, index: int | str) -> Task:
        """The task of ``stage`` at array ``index`` (int) or with task id ``index`` (str)."""
        from rankbind.errors import ProtocolError

        if stage not in self.stages:
            raise ProtocolError(f"no stage '{stage}' (stages: {', '.join(self.stages)})")
        tasks = self.stages[stage]
        if isinstance(index, str):
            for task in tasks:
                if task.id == index:
                    return task
            ids = ", ".join(t.id for t in tasks[:20])
            raise ProtocolError(f"stage '{stage}' has no task '{index[:80]}' (tasks: {ids})")
        if not 0 <= index < len(tasks):
            raise ProtocolError(f"stage '{stage}' has tasks 0-{len(tasks) - 1}, not {index}")
        return tasks[index]

    def tasks(self) -> list[Task]:
        """All tasks in a valid execution order (stage by stage)."""
        return [t for tasks in self.stages.values() for t in tasks]

    def by_key(self) -> dict[str, Task]:
        return {t.key: t for t in self.tasks()}

    def graph(self) -> dict[str, tuple[str, ...]]:
        """task key -> keys of the tasks it depends on (for graphlib.TopologicalSorter)."""
        return {t.key: t.deps for t in self.tasks()}

    def dependants(self, keys: Iterable[str]) -> set[str]:
        """``keys`` and every task downstream of them."""
        children: dict[str, list[str]] = {}
        for task in self.tasks():
            for dep in task.deps:
                children.setdefault(dep, []).append(task.key)
        out, todo = set(), list(keys)
        while todo:
            key = todo.pop()
            if key not in out:
                out.add(key)
                todo.extend(children.get(key, ()))
        return out

    def to_data(self) -> dict:
        return {
            "protocol": self.protocol.name,
            "protocol_sha256": self.protocol.digest(),
            "stages": {s: [asdict(t) for t in tasks] for s, tasks in self.stages.items()},
        }


def task_seed(protocol_seed: int, stage: str, task_id: str) -> int:
    """A 31-bit seed derived from the protocol seed and the task's identity."""
    digest = hashlib.sha256(f"{protocol_seed}:{stage}:{task_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def expand(protocol: Protocol) -> Plan:
    """The task DAG of ``protocol``."""
    resolved = protocol.resolved
    stages: dict[str, list[Task]] = {}
    for stage in resolved["stages"]:
        over = stage["over"]
        systems: list[str | None] = (
            [None]
            if over == "all"
            else sorted(resolved["systems"])
            if over == "systems"
            else sorted(over)
        )
        replicas = stage["replicas"]
        windows = stage.get("windows")
        tasks = []
        for system in systems:
            for replica in range(replicas):
                for window in range(len(windows)) if windows else [None]:
                    task_id = system or "all"
                    if replicas > 1:
                        task_id += f"-r{replica}"
                    if window is not None:
                        task_id += f"-w{window:03d}"
                    deps = tuple(
                        up.key
                        for upstream in stage["after"]
                        for up in stages[upstream]
                        if _depends(system, replica, replicas, up, resolved, upstream)
                    )
                    tasks.append(
                        Task(
                            stage=stage["name"],
                            index=len(tasks),
                            id=task_id,
                            kind=stage["task"],
                            system=system,
                            replica=replica,
                            window=window,
                            seed=task_seed(resolved["seed"], stage["name"], task_id),
                            deps=deps,
                        )
                    )
        stages[stage["name"]] = tasks
    return Plan(protocol, stages)


def _depends(system, replica, replicas, up: Task, resolved, upstream: str) -> bool:
    if system is not None and up.system is not None and up.system != system:
        return False
    up_replicas = next(s["replicas"] for s in resolved["stages"] if s["name"] == upstream)
    return not (replicas > 1 and up_replicas == replicas and up.replica != replica)
