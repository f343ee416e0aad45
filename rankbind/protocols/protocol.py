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
    Model,
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
from rankbind.settings import DockingSettings, PhysicsSettings, PlatformSettings

_MODULE = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
_MUTATION = r"[A-Z_]+(/[A-Za-z0-9])?:[ACDEFGHIKLMNPQRSTVWY]\d+[ACDEFGHIKLMNPQRSTVWY-]"
_SLURM_WORD = r"[A-Za-z0-9_.:,=+-]+"

PHYSICS = Model(PhysicsSettings)
PLATFORM = Model(PlatformSettings)

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
            "entry": Key(Str(pattern=r"[A-Za-z0-9_]+", doc="a catalogue entry such as 4GIQ")),
            "file": Key(FilePath(base)),
            "kind": Key(Str(choices=KINDS), default="interface"),
            "isoforms": Key(
                MapOf(Str(pattern=r"[A-Za-z0-9_-]+"), key=r"[A-Z_]+"),
                doc="molecule -> isoform (seeds/isoform_constructs.yaml): its chains are cut "
                "to the isoform's construct",
            ),
            "model": Key(
                Record(
                    {
                        "species": Key(Str(choices=("human", "mouse")), required=True),
                        "sequences": Key(
                            MapOf(FilePath(base), key=r"[A-Z_]+", min_len=1),
                            required=True,
                            doc="molecule -> FASTA (first record, full-length UniProt numbering)",
                        ),
                    }
                ),
                doc="thread other sequences onto the entry's chains (a homology model)",
            ),
            "mutations": Key(
                ListOf(Str(pattern=_MUTATION, doc="e.g. RANKL:K180A or RANK/R:D182-"), min_len=1)
            ),
            "fab": Key(
                Record(
                    {
                        "antibody": Key(Str(choices=("denosumab",)), required=True),
                        "rotations": Key(
                            Number(integer=True, min=1),
                            default=DockingSettings.model_fields["n_rotations"].default,
                            doc="FFT docking rotations",
                        ),
                        "pose": Key(Number(integer=True, min=1), default=1, doc="docked pose rank"),
                    }
                ),
                doc="dock the antibody's Fv model onto the entry's RANKL trimer (a MODEL)",
            ),
            "extract": Key(
                ListOf(Selection(), min_len=1),
                doc="keep only these residues of the built system (e.g. an interface fragment)",
            ),
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


def load_yaml(path: Path) -> Any:
    """Parse a YAML file, rejecting duplicate keys; ProtocolError names file and line."""
    try:
        from rankbind.validation import UniqueKeyLoader

        return yaml.load(path.read_text(), Loader=UniqueKeyLoader)  # noqa: S506 (safe)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProtocolError(f"{path}: not valid YAML{at}: {problem[:200]}") from None
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{path}: not a text file: {exc}") from None


def load_protocol(path: str | Path, overrides: dict | None = None, tiny: bool = False) -> Protocol:
    """Read and validate a protocol YAML file.

    ``overrides`` (validated, see :data:`OVERRIDES`) change keys before validation, e.g.
    ``{"physics": {"temperature": "310 K"}, "stages": {"relax": {"params": {"length":
    "10 ps"}}}}``. ``tiny``: first apply every stage kind's tiny parameters (a few MD steps,
    small grids, one replica, two windows) so the whole protocol runs in seconds to minutes;
    the resolved protocol (recorded in the run directory) shows what ran."""
    path = Path(path)
    if not path.is_file():
        path = shipped_file(path, "protocols") or path  # a shipped protocol: quick, quick.yaml
    if not path.is_file():
        raise ProtocolError(f"protocol file not found: {path}")
    data = load_yaml(path)
    if isinstance(data, dict):
        try:
            if tiny:
                data = apply_overrides(data, tiny_overrides(data))
            if overrides:
                data = apply_overrides(data, overrides)
        except ProtocolError as exc:
            raise ProtocolError(f"{path}: {exc}") from None
    return protocol_from_dict(data, source=str(path), base=path.parent)


OVERRIDES = Record(
    {
        "seed": Key(Number(integer=True, min=0, max=2**31 - 1)),
        "physics": Key(_Raw()),
        "platform": Key(_Raw()),
        "systems": Key(MapOf(_Raw())),
        "stages": Key(
            MapOf(
                Record(
                    {
                        "params": Key(_Raw()),
                        "replicas": Key(Number(integer=True, min=1, max=10000)),
                        "windows": Key(_WINDOWS),
                    }
                )
            )
        ),
    }
)


def _merge(base: Any, change: Any) -> Any:
    if isinstance(base, dict) and isinstance(change, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in change.items()}}
    return change


def apply_overrides(data: dict, overrides: dict) -> dict:
    """``data`` with ``overrides`` merged in (mappings merged key by key). Overrides are
    checked first: only seed, physics, platform, systems.NAME and stages.NAME.{params,
    replicas, windows}, naming systems and stages that exist."""
    OVERRIDES.check(overrides, "overrides")
    out = dict(data)
    for key in ("seed", "physics", "platform"):
        if key in overrides:
            out[key] = _merge(data.get(key), overrides[key])
    systems = dict(data.get("systems") or {})
    for name, change in (overrides.get("systems") or {}).items():
        if name not in systems:
            raise SchemaViolation(
                f"overrides.systems.{name}", f"no system '{name}' (systems: {', '.join(systems)})"
            )
        systems[name] = _merge(systems[name], change)
    if systems:
        out["systems"] = systems
    stages = [dict(s) if isinstance(s, dict) else s for s in data.get("stages") or []]
    names = [s.get("name") for s in stages if isinstance(s, dict)]
    for name, change in (overrides.get("stages") or {}).items():
        if name not in names:
            raise SchemaViolation(
                f"overrides.stages.{name}",
                f"no stage '{name}' (stages: {', '.join(map(str, names))})",
            )
        stage = stages[names.index(name)]
        for key, value in change.items():
            stage[key] = _merge(stage.get(key), value)
    if stages:
        out["stages"] = stages
    return out


def tiny_overrides(data: dict) -> dict:
    """Overrides shrinking a protocol to a smoke run: each stage's kind's ``tiny`` params,
    one replica, the first two windows; docking with a few rotations."""
    stages = {}
    for stage in data.get("stages") or []:
        if not isinstance(stage, dict) or "name" not in stage or "task" not in stage:
            continue
        try:
            kind = registry.get_kind(stage["task"])
        except ProtocolError:
            continue  # reported by validation
        change: dict = {"replicas": 1}
        if kind.tiny:
            change["params"] = dict(kind.tiny)
        windows = stage.get("windows")
        if isinstance(windows, list):
            change["windows"] = windows[:2]
        elif isinstance(windows, dict):
            change["windows"] = {**windows, "count": min(2, windows.get("count", 2))}
        stages[stage["name"]] = change
    systems = {
        name: {"fab": {"rotations": 8}}
        for name, spec in (data.get("systems") or {}).items()
        if isinstance(spec, dict) and isinstance(spec.get("fab"), dict)
    }
    return {"stages": stages} | ({"systems": systems} if systems else {})


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


MODIFIERS = ("isoforms", "model", "mutations", "fab")


def _check_systems(systems: dict[str, dict]) -> None:
    """Everything a system key names must exist and fit the entry (see
    rankbind.protocols.systems for how each key is built)."""
    from rankbind.modelling.isoforms import isoform_properties
    from rankbind.structures.catalogue import get_entry

    for name, system in systems.items():
        where = f"systems.{name}"
        if ("entry" in system) == ("file" in system):
            raise SchemaViolation(where, "give exactly one of 'entry' (catalogue) or 'file' (PDB)")
        used = [k for k in MODIFIERS if k in system]
        if len(used) > 1:
            raise SchemaViolation(
                where, f"{' and '.join(used)} cannot be combined (one of {', '.join(MODIFIERS)})"
            )
        if used and "entry" not in system:
            raise SchemaViolation(f"{where}.{used[0]}", "needs a catalogue 'entry', not a 'file'")
        if "entry" not in system:
            continue
        try:
            entry = get_entry(system["entry"])
        except (StructureError, KeyError) as exc:
            raise SchemaViolation(f"{where}.entry", f"missing structure: {exc}") from None
        molecules = system_molecules(system, modified=False)
        for molecule, isoform in system.get("isoforms", {}).items():
            at = f"{where}.isoforms.{molecule}"
            try:
                props = isoform_properties(isoform)
            except StructureError as exc:
                raise SchemaViolation(at, str(exc)) from None
            if props.protein != molecule:
                raise SchemaViolation(at, f"'{isoform}' is an isoform of {props.protein}")
            if molecule not in molecules:
                raise SchemaViolation(at, f"no {molecule} in {entry.name} {system['kind']}")
            if props.construct.entry != entry.name:
                raise SchemaViolation(
                    at,
                    f"'{isoform}' is built on {props.construct.entry} (seeds/isoform_constructs.yaml); "
                    f"use entry {props.construct.entry}",
                )
            c = props.construct
            assembly = _assembly(system["entry"], system["kind"])
            numbers = [
                n
                for info in assembly.chains
                if info.molecule == molecule
                for n in assembly.residue_numbers(info.chain_id)
            ]
            if all(c.first <= n <= c.last for n in numbers):
                raise SchemaViolation(
                    at,
                    f"'{isoform}' changes nothing that is modelled: its construct "
                    f"({c.entry} {molecule} {c.first}-{c.last}) holds every {molecule} residue "
                    f"of {entry.name} {system['kind']} ({min(numbers)}-{max(numbers)}); it differs "
                    f"only outside the modelled part ({props.modelled_part}), so a simulation "
                    "would compute the canonical complex under the isoform's name",
                )
        for molecule in system.get("model", {}).get("sequences", {}):
            if molecule not in molecules:
                raise SchemaViolation(
                    f"{where}.model.sequences.{molecule}",
                    f"no {molecule} in {entry.name} {system['kind']} (molecules: {', '.join(sorted(molecules))})",
                )
        for i, text in enumerate(system.get("mutations", [])):
            molecule = text.split(":")[0].split("/")[0]
            if molecule not in molecules:
                raise SchemaViolation(
                    f"{where}.mutations[{i}]", f"no {molecule} in {entry.name} {system['kind']}"
                )
        for i, text in enumerate(system.get("extract", [])):
            try:
                _check_selection({k: v for k, v in system.items() if k != "extract"}, text)
            except SelectionError as exc:
                raise SchemaViolation(f"{where}.extract[{i}]", str(exc)) from None
        if "fab" in system and (system["kind"] != "trimer" or entry.name not in ("3URF", "4GIQ")):
            raise SchemaViolation(
                f"{where}.fab",
                "docking places the antibody on a RANKL trimer: use entry 3URF (human) or "
                "4GIQ (mouse) with kind: trimer",
            )


def system_molecules(system: dict, modified: bool = True) -> set[str] | None:
    """Molecules a system contains, or None when unknown (a user PDB file)."""
    if "entry" not in system:
        return None
    molecules = {c.molecule for c in _assembly(system["entry"], system["kind"]).chains}
    if modified and "fab" in system:
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

    if "+" in text:
        for part in text.split("+"):
            _check_selection(system, part)
        return
    selection = parse_selection(text)
    have = system_molecules(system)
    if have is None:
        return
    if selection.molecule not in have:
        raise SelectionError(
            f"selection '{text}': no {selection.molecule} here (molecules: {', '.join(sorted(have))})"
        )
    if any(k in system for k in MODIFIERS):
        return  # residues are checked when the modified system is built
    assembly = _assembly(system["entry"], system["kind"])
    if "extract" in system:
        from rankbind.structures.assembly import extract

        assembly = extract(assembly, system["extract"])
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
        if kind.requires and not any(phases[d] in kind.requires for d in stage["after"]):
            raise SchemaViolation(
                f"{where}.after",
                f"a '{kind.name}' stage reads the outputs of a {' or '.join(kind.requires)} "
                f"stage: list one in 'after' (now: {', '.join(stage['after']) or 'none'})",
            )
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
