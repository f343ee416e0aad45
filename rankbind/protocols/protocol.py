"""Protocol files: loading, validation against the schema, and the resolved form.

A protocol (YAML) names systems (catalogue structures), shared physics, and an ordered
list of stages; each stage runs one task kind over its systems (x replicas x windows).
Every error names the file and the key path, e.g.
``protocols/quick.yaml: stages[2].params.cutoff: unit 'm' in '4 m' is not a length unit``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rankbind.errors import ProtocolError, SelectionError, StructureError
from rankbind.fileio import shipped_file
from rankbind.protocols import registry
from rankbind.protocols.schema import (
    NAME,
    Bool,
    FilePath,
    Key,
    ListOf,
    MapOf,
    Number,
    OneOf,
    Quantity,
    Record,
    SchemaViolation,
    Selection,
    Spec,
    Str,
    to_data,
)

_MODULE = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
_MUTATION = r"[A-Z_]+(/[A-Za-z0-9])?:[ACDEFGHIKLMNPQRSTVWY]\d+[ACDEFGHIKLMNPQRSTVWY]"
_SLURM_WORD = r"[A-Za-z0-9_.:,=+-]+"

PHYSICS = Record(
    {
        "forcefield": Key(Str(choices=("amber14", "amber19")), default="amber14"),
        "solvent": Key(Str(choices=("gbn2", "obc2", "explicit", "vacuum")), default="gbn2"),
        "water_model": Key(Str(choices=("tip3p", "opc", "tip4pew")), default="tip3p"),
        "temperature": Key(Quantity("temperature", min=200, max=500), default="300 K"),
        "pressure": Key(Quantity("pressure", min=0.5, max=1000), default="1 bar"),
        "timestep": Key(Quantity("time", min=0.0001, max=0.005), default="2 fs"),
        "friction": Key(Number(min=0.0, max=100.0), default=1.0, doc="Langevin friction, 1/ps"),
        "constraints": Key(
            Str(choices=("none", "HBonds", "AllBonds", "HAngles")), default="HBonds"
        ),
        "hydrogen_mass": Key(Number(min=1.0, max=4.5), doc="amu; repartitioned when given"),
        "salt": Key(Quantity("concentration", min=0.0, max=2.0), default="0.15 M"),
        "nonbonded_cutoff": Key(Quantity("length", min=0.5, max=3.0), default="1.0 nm"),
        "implicit_cutoff": Key(
            Quantity("length", min=1.0, max=5.0),
            doc="implicit solvent: CutoffNonPeriodic at this distance (default: no cutoff)",
        ),
    }
)

PLATFORM = Record(
    {
        "name": Key(
            Str(choices=("auto", "CUDA", "HIP", "OpenCL", "CPU", "Reference")), default="auto"
        ),
        "precision": Key(Str(choices=("mixed", "single", "double")), default="mixed"),
    }
)

RESOURCES = Record(
    {
        "gpu": Key(Bool()),
        "cpus": Key(Number(integer=True, min=1, max=256)),
        "time": Key(Str(pattern=r"(\d+-)?\d{1,2}:\d{2}(:\d{2})?|\d+", doc="HH:MM:SS")),
        "memory": Key(Str(pattern=r"\d+[KMGT]?", doc="e.g. 4G")),
    }
)

SLURM = Record(
    {
        "partition": Key(Str(pattern=_SLURM_WORD, doc="a partition name")),
        "account": Key(Str(pattern=_SLURM_WORD, doc="an account name")),
        "qos": Key(Str(pattern=_SLURM_WORD, doc="a QOS name")),
        "gres": Key(Str(pattern=_SLURM_WORD, doc="e.g. gpu:1"), default="gpu:1"),
        "array_throttle": Key(Number(integer=True, min=1), doc="max array tasks running at once"),
    }
)


def _system_spec(base: Path) -> Record:
    from rankbind.structures.assembly import KINDS

    return Record(
        {
            "entry": Key(Str(pattern=r"[A-Za-z0-9]+", doc="a catalogue entry such as 4GIQ")),
            "file": Key(FilePath(base)),
            "kind": Key(Str(choices=KINDS), default="interface"),
            "fab": Key(
                Record(
                    {
                        "template": Key(Str(pattern=r"[A-Za-z0-9]+"), required=True),
                        "sequence": Key(FilePath(base), required=True),
                    }
                )
            ),
            "model": Key(
                Record(
                    {
                        "species": Key(Str(choices=("human", "mouse")), required=True),
                        "sequences": Key(ListOf(FilePath(base), min_len=1)),
                        "method": Key(Str()),
                    }
                ),
                doc="build a homology model of the entry in another species",
            ),
            "isoforms": Key(MapOf(Str(pattern=r"[A-Za-z0-9_-]+"), key=r"[A-Z_]+")),
            "mutations": Key(ListOf(Str(pattern=_MUTATION, doc="e.g. RANKL:K180A"))),
            "description": Key(Str()),
        }
    )


class _Raw(Spec):
    """Accept a mapping as is (checked later against the stage's task kind)."""

    def check(self, value, where):
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise SchemaViolation(where, f"expected a mapping, got {value!r}")
        return value


_WINDOWS = OneOf(
    (
        ListOf(Quantity("length", min=0.0), min_len=1),
        Record(
            {
                "start": Key(Quantity("length", min=0.0), required=True),
                "stop": Key(Quantity("length", min=0.0), required=True),
                "count": Key(Number(integer=True, min=1, max=1000), required=True),
            }
        ),
    )
)

STAGE = Record(
    {
        "name": Key(Str(pattern=NAME, doc="letters, digits, _ . -"), required=True),
        "task": Key(Str(pattern=NAME), required=True),
        "after": Key(ListOf(Str(pattern=NAME)), doc="default: the previous stage"),
        "over": Key(
            OneOf((Str(choices=("systems", "all")), ListOf(Str(pattern=NAME), min_len=1))),
            default="systems",
        ),
        "replicas": Key(Number(integer=True, min=1, max=10000), default=1),
        "windows": Key(_WINDOWS),
        "params": Key(_Raw(), default={}, doc="checked against the stage's task kind"),
        "resources": Key(RESOURCES),
    }
)


def _protocol_spec(base: Path) -> Record:
    return Record(
        {
            "name": Key(Str(pattern=NAME, doc="letters, digits, _ . -"), required=True),
            "description": Key(Str()),
            "seed": Key(Number(integer=True, min=0, max=2**31 - 1), default=2024),
            "plugins": Key(ListOf(Str(pattern=_MODULE, doc="a Python module name")), default=[]),
            "physics": Key(PHYSICS, default={}),
            "platform": Key(PLATFORM, default={}),
            "systems": Key(MapOf(_system_spec(base), min_len=1), required=True),
            "stages": Key(ListOf(STAGE, min_len=1), required=True),
            "slurm": Key(SLURM, default={}),
        }
    )


@dataclass
class Protocol:
    """A validated protocol. ``resolved`` holds OpenMM Quantities and filled defaults;
    :meth:`data` is the same as plain data (a valid protocol itself)."""

    source: str
    resolved: dict[str, Any]

    @property
    def name(self) -> str:
        return self.resolved["name"]

    def data(self) -> dict[str, Any]:
        return to_data(self.resolved)

    def digest(self) -> str:
        """sha256 of the resolved protocol's canonical JSON."""
        text = json.dumps(self.data(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def stage(self, name: str) -> dict[str, Any]:
        for stage in self.resolved["stages"]:
            if stage["name"] == name:
                return stage
        raise ProtocolError(f"{self.source}: no stage '{name}'")


def load_protocol(path: str | Path) -> Protocol:
    """Read and validate a protocol YAML file."""
    path = Path(path)
    if not path.is_file():
        path = shipped_file(path, "protocols") or path  # a shipped protocol: quick, quick.yaml
    if not path.is_file():
        raise ProtocolError(f"protocol file not found: {path}")
    try:
        from rankbind.validation import UniqueKeyLoader

        data = yaml.load(path.read_text(), Loader=UniqueKeyLoader)  # noqa: S506 (safe)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProtocolError(f"{path}: not valid YAML{at}: {problem[:200]}") from None
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{path}: not a text file: {exc}") from None
    return protocol_from_dict(data, source=str(path), base=path.parent)


def protocol_from_dict(data: Any, source: str = "<protocol>", base: str | Path = ".") -> Protocol:
    """Validate protocol ``data`` (as loaded from YAML); errors name ``source``."""
    base = Path(base)
    if not isinstance(data, dict):
        raise ProtocolError(f"{source}: a protocol is a mapping with keys name, systems, stages")
    try:
        resolved = _protocol_spec(base).check(data, "")
        _import_plugins(resolved["plugins"])
        _check_systems(resolved["systems"])
        _check_stages(resolved)
    except ProtocolError as exc:
        raise ProtocolError(f"{source}: {exc}") from None
    return Protocol(source=source, resolved=resolved)


def _import_plugins(modules: list[str]) -> None:
    for i, module in enumerate(modules):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise SchemaViolation(f"plugins[{i}]", f"cannot import '{module}': {exc}") from None


def _check_systems(systems: dict[str, dict]) -> None:
    from rankbind.structures.catalogue import get_entry

    for name, system in systems.items():
        where = f"systems.{name}"
        if ("entry" in system) == ("file" in system):
            raise SchemaViolation(where, "give exactly one of 'entry' (catalogue) or 'file' (PDB)")
        refs = [("entry", system.get("entry"))]
        if "fab" in system:
            refs.append(("fab.template", system["fab"]["template"]))
        for key, ref in refs:
            if ref is None:
                continue
            try:
                entry = get_entry(ref)
            except (StructureError, KeyError) as exc:
                raise SchemaViolation(f"{where}.{key}", f"missing structure: {exc}") from None
            if key == "fab.template" and entry.kind != "fab_template":
                raise SchemaViolation(
                    f"{where}.{key}", f"'{ref}' is a {entry.kind}, not a Fab template"
                )


def system_molecules(system: dict) -> set[str] | None:
    """Molecules a system contains, or None when unknown (a user PDB file)."""
    from rankbind.structures.catalogue import get_entry

    if "entry" not in system:
        return None
    molecules = {c.molecule for c in get_entry(system["entry"]).chains.values()}
    if "fab" in system:
        molecules |= {"FAB_HEAVY", "FAB_LIGHT"}
    return molecules


def _selections(spec: Spec, value: Any, where: str):
    """(key path, text) of every residue selection in ``value`` checked by ``spec``."""
    if isinstance(spec, Selection):
        yield where, value
    elif isinstance(spec, Record):
        for name, key in spec.keys.items():
            if name in value:
                yield from _selections(key.spec, value[name], f"{where}.{name}")
    elif isinstance(spec, ListOf):
        for i, item in enumerate(value):
            yield from _selections(spec.item, item, f"{where}[{i}]")


def _check_selection(system: dict, text: str) -> None:
    """Raise SelectionError unless ``text`` names residues of ``system``: the molecule
    must be in it and, for catalogue structures used as deposited (no model, isoform or
    Fab to be built), every listed residue number must exist in the assembly."""
    from rankbind.structures.selection import parse_selection, select_residues

    selection = parse_selection(text)
    have = system_molecules(system)
    if have is None:
        return
    if selection.molecule not in have:
        raise SelectionError(
            f"selection '{text}': no {selection.molecule} here (molecules: {', '.join(sorted(have))})"
        )
    if "model" in system or "isoforms" in system or selection.molecule.startswith("FAB"):
        return
    assembly = _assembly(system["entry"], system["kind"])
    residues = {c: assembly.residue_numbers(c) for c in assembly.chain_ids()}
    select_residues(assembly.chains, residues, text)


@functools.lru_cache(maxsize=32)
def _assembly(entry: str, kind: str):
    from rankbind.structures.assembly import build_assembly

    return build_assembly(entry, kind)


def _check_stages(resolved: dict) -> None:
    systems = resolved["systems"]
    seen: list[str] = []
    phases: dict[str, str] = {}  # stage name -> task kind
    for i, stage in enumerate(resolved["stages"]):
        where = f"stages[{i}]"
        name = stage["name"]
        if name in seen:
            raise SchemaViolation(f"{where}.name", f"duplicate stage name '{name}'")
        try:
            kind = registry.get_kind(stage["task"])
        except ProtocolError as exc:
            raise SchemaViolation(f"{where}.task", str(exc)) from None
        if "after" not in stage:
            stage["after"] = seen[-1:]
        for j, dep in enumerate(stage["after"]):
            if dep not in seen:
                later = (
                    " (stages run in file order; list it earlier)"
                    if any(s["name"] == dep for s in resolved["stages"])
                    else ""
                )
                raise SchemaViolation(f"{where}.after[{j}]", f"no earlier stage '{dep}'{later}")
            upstream = registry.get_kind(phases[dep])
            if registry.PHASES.index(upstream.stage) > registry.PHASES.index(kind.stage):
                raise SchemaViolation(
                    f"{where}.after[{j}]",
                    f"'{kind.name}' ({kind.stage} phase) cannot run after '{dep}' "
                    f"({upstream.name}, {upstream.stage} phase); phases run in the order "
                    + " -> ".join(registry.PHASES),
                )
        over = stage["over"]
        if isinstance(over, list):
            for j, system in enumerate(over):
                if system not in systems:
                    raise SchemaViolation(
                        f"{where}.over[{j}]",
                        f"unknown system '{system}' (systems: {', '.join(systems)})",
                    )
        stage["params"] = kind.params.check(stage["params"], f"{where}.params")
        targets = systems if over in ("systems", "all") else {s: systems[s] for s in over}
        for path, text in _selections(kind.params, stage["params"], f"{where}.params"):
            for system_name, system in targets.items():
                try:
                    _check_selection(system, text)
                except SelectionError as exc:
                    raise SchemaViolation(path, f"system '{system_name}': {exc}") from None
        if "windows" in stage:
            stage["windows"] = _window_values(stage["windows"])
        seen.append(name)
        phases[name] = stage["task"]


def _window_values(windows) -> list:
    """Window centres as a list of Quantities."""
    if isinstance(windows, list):
        return windows
    start, stop, count = windows["start"], windows["stop"], windows["count"]
    if count == 1:
        return [start]
    step = (stop - start) / (count - 1)
    return [start + step * k for k in range(count)]
