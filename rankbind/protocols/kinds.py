"""The built-in task kinds, as data: phase, parameter schema, default resources, tiny
(smoke-run) parameters and the API function each runs (``rankbind.protocols.tasks``).

Physics shared by all tasks (force field, solvent, temperature, timestep, salt, ...) is the
protocol's ``physics`` block (rankbind.settings.PhysicsSettings), not repeated here; the
defaults below that overlap a settings model are read from it. This module imports no other
protocol module (rankbind.protocols.registry imports it).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rankbind.errors import ProtocolError
from rankbind.protocols.schema import (
    Bool,
    Key,
    ListOf,
    Number,
    Quantity,
    Record,
    SchemaViolation,
    Selection,
    Spec,
    Str,
)
from rankbind.settings import (
    AFFINITY_VARIANT,
    DDG_VARIANT,
    FIXED_EPS_VARIANTS,
    PMFSettings,
    PreparationOptions,
    SimulationOptions,
    UmbrellaSettings,
    default_of,
)

PHASES = ("prepare", "equilibrate", "production", "analysis", "report")
_SLURM_TIME = re.compile(r"^(\d+-)?\d{1,2}:\d{2}(:\d{2})?$|^\d+$")


@dataclass(frozen=True)
class Resources:
    """What one task of a kind needs. ``time`` is a SLURM time limit (``HH:MM:SS``,
    ``D-HH:MM:SS`` or minutes); ``memory`` a SLURM memory string such as ``4G``."""

    gpu: bool = False
    cpus: int = 1
    time: str = "01:00:00"
    memory: str | None = None

    def __post_init__(self):
        if not _SLURM_TIME.match(self.time):
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
    tiny: dict = field(default_factory=dict)  # params of a smoke run (load_protocol tiny=True)
    requires: tuple[str, ...] = ()  # kinds of which a direct upstream stage must be one

    def implementation(self) -> Callable[[Any], dict | None]:
        """The task function; ProtocolError if none is registered or it cannot be imported."""
        if self.function is None:
            raise ProtocolError(
                f"task kind '{self.name}' has no implementation registered "
                "(register_task(name, function, stage=...) in a plugin)"
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


_GPU = Resources(gpu=True, time="12:00:00")
_CPU = Resources(gpu=False, time="02:00:00")
_TIME = Quantity("time", min=0.0)
_POSITIVE_TIME = Quantity("time", min=1e-6)
_TASKS = "rankbind.protocols.tasks"
# a few MD steps at 2 or 4 fs, frames every step or two
_TINY_MD = {"length": "0.008 ps", "report_interval": "0.004 ps"}


def _ps(value_ps: float) -> str:
    return f"{value_ps!r} ps"


_UMBRELLA = UmbrellaSettings()


@dataclass
class _FieldMap(Spec):
    """A mapping of settings field names to plain values; the task checks the names against
    its settings class (e.g. rankbind.benchmark.suite.settings_from_params)."""

    doc: str = ""

    def check(self, value, where):
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise SchemaViolation(where, f"expected a mapping of settings fields, got {value!r}")
        return dict(value)


_VARIANTS = Str(choices=(*FIXED_EPS_VARIANTS, "none"))
_VARIANT_DOC = (
    "named MM/GBSA variant (rankbind.energies.variants): its GB model, solute dielectric and "
    "non-polar term, without salt; 'none': the physics block's GB model and salt, eps_in 1, "
    "gamma*SASA. Default fixed by nested leave-one-complex-out CV (rankbind.settings: "
)


@dataclass
class _MMGBSAParams(Record):
    """MM/GBSA task parameters: ``gb_model`` and ``salt`` refine ``variant: none`` only (a
    named variant fixes its GB model, and salt 0)."""

    def check(self, value, where):
        out = super().check(value, where)
        given = [k for k in ("gb_model", "salt") if k in (value or {})]
        if given and out.get("variant") != "none":
            raise SchemaViolation(
                f"{where}.{given[0]}" if where else given[0],
                f"'{given[0]}' applies to variant: none only; variant {out['variant']} fixes "
                "the GB model, solute dielectric, non-polar term and salt (0 M)",
            )
        return out


BUILTIN = [
    TaskKind(
        "prepare",
        "prepare",
        Record(
            {
                "ph": Key(
                    Number(min=0, max=14), default=default_of(PreparationOptions, "ph"), doc="pH"
                ),
                "padding": Key(
                    Quantity("length", min=0.5, max=5.0),
                    doc="solvent padding (explicit solvent only)",
                ),
                "keep_crystal_waters": Key(Bool(), default=False),
            }
        ),
        _CPU,
        f"{_TASKS}:prepare_task",
        "build the system (entry, isoform, model, mutations or docked Fab) and prepare it "
        "for OpenMM: missing atoms, hydrogens at pH, solvent, System",
    ),
    TaskKind(
        "equilibrate",
        "equilibrate",
        Record(
            {
                "length": Key(_TIME, required=True, doc="restrained NVT (and NPT) time"),
                "minimize": Key(Bool(), default=True),
                "minimize_iterations": Key(
                    Number(integer=True, min=0),
                    default=default_of(SimulationOptions, "minimise_max_iterations"),
                    doc="L-BFGS cap (0: to convergence)",
                ),
                "restraint": Key(
                    Quantity("force_constant", min=0.0),
                    default=f"{default_of(SimulationOptions, 'restraint_k_kJ_mol_nm2')!r} kJ/mol/nm**2",
                    doc="backbone restraint",
                ),
                "report_interval": Key(_POSITIVE_TIME, default="10 ps"),
            }
        ),
        _GPU,
        f"{_TASKS}:equilibrate_task",
        "minimisation and restrained relaxation of the prepared system",
        {**_TINY_MD, "minimize_iterations": 20},
        requires=("prepare",),
    ),
    TaskKind(
        "simulate",
        "production",
        Record(
            {
                "length": Key(_POSITIVE_TIME, required=True, doc="simulated time per replica"),
                "report_interval": Key(_POSITIVE_TIME, default="10 ps", doc="frame spacing"),
                "checkpoint_interval": Key(_POSITIVE_TIME, default="100 ps"),
            }
        ),
        _GPU,
        f"{_TASKS}:simulate_task",
        "production MD from the end of the equilibration; one task per replica, resumable",
        {**_TINY_MD, "checkpoint_interval": "0.004 ps"},
        requires=("equilibrate", "simulate"),
    ),
    TaskKind(
        "contacts",
        "analysis",
        Record({"cutoff": Key(Quantity("length", min=0.1, max=2.0), default="0.4 nm")}),
        _CPU,
        f"{_TASKS}:contacts_task",
        "footprints on RANKL, interface chemistry, PRODIGY and the competition map of the "
        "prepared systems",
        requires=("prepare",),
    ),
    TaskKind(
        "mmgbsa",
        "analysis",
        _MMGBSAParams(
            {
                "receptor": Key(Selection(), required=True),
                "ligand": Key(Selection(), required=True),
                "variant": Key(
                    _VARIANTS,
                    default=AFFINITY_VARIANT,
                    doc=_VARIANT_DOC + "AFFINITY_VARIANT, 24/24 folds: gpu_bench/results/"
                    "accuracy/affinity_relaxed_variants/SUMMARY.md)",
                ),
                "gb_model": Key(
                    Str(choices=("GBn2", "OBC2")),
                    doc="variant none only; default: the physics solvent's (GBn2)",
                ),
                "salt": Key(
                    Quantity("concentration", min=0.0, max=2.0),
                    doc="variant none only; default: physics salt",
                ),
                "stride": Key(Number(integer=True, min=1), default=1),
            }
        ),
        _CPU,
        f"{_TASKS}:mmgbsa_task",
        "MM/GBSA binding energy per frame with bootstrap uncertainty",
        requires=("prepare", "equilibrate", "simulate"),
    ),
    TaskKind(
        "alanine_scan",
        "analysis",
        Record(
            {
                "residues": Key(ListOf(Selection(), min_len=1), required=True),
                "receptor": Key(Selection(), required=True),
                "ligand": Key(Selection(), required=True),
                "stride": Key(Number(integer=True, min=1), default=1),
                "hotspot": Key(Number(min=0.0), default=1.0, doc="hot-spot ΔΔG, kcal/mol"),
                "variant": Key(
                    _VARIANTS,
                    default=DDG_VARIANT,
                    doc=_VARIANT_DOC + "DDG_VARIANT, 8/8 folds: gpu_bench/results/accuracy/"
                    "ddg_relaxed_variants/SUMMARY.md)",
                ),
            }
        ),
        _CPU,
        f"{_TASKS}:alanine_scan_task",
        "computational alanine scan: ΔΔG of X->Ala for each listed residue by MM/GBSA",
        requires=("prepare", "equilibrate", "simulate"),
    ),
    TaskKind(
        "umbrella",
        "production",
        Record(
            {
                "group1": Key(Selection(), required=True, doc="the RANKL side"),
                "group2": Key(Selection(), required=True, doc="the receptor side"),
                "force_constant": Key(
                    Quantity("force_constant", min=0.0),
                    default=f"{_UMBRELLA.force_constant!r} kJ/mol/nm**2",
                ),
                "length": Key(_POSITIVE_TIME, required=True, doc="sampling per window"),
                "report_interval": Key(
                    _POSITIVE_TIME,
                    default=_ps(_UMBRELLA.steps_per_sample * _UMBRELLA.timestep_ps),
                    doc="sample spacing",
                ),
                "equilibration": Key(
                    _TIME,
                    default=_ps(_UMBRELLA.equilibration_steps * _UMBRELLA.timestep_ps),
                    doc="unsampled MD per window before sampling",
                ),
                "minimize_iterations": Key(
                    Number(integer=True, min=0), default=_UMBRELLA.minimisation_iterations
                ),
            }
        ),
        _GPU,
        f"{_TASKS}:umbrella_task",
        "one umbrella window on the centre-of-mass distance group1-group2 (stage windows)",
        {
            "length": "0.02 ps",
            "report_interval": "0.004 ps",
            "equilibration": "0.004 ps",
            "minimize_iterations": 2,
        },
        requires=("equilibrate",),
    ),
    TaskKind(
        "pmf",
        "analysis",
        Record(
            {
                "site_max": Key(
                    Quantity("length", min=0.0), required=True, doc="bound site: r below this"
                ),
                "bulk_shell": Key(
                    ListOf(Quantity("length", min=0.0), min_len=2),
                    required=True,
                    doc="[lo, hi]: the unbound reference shell",
                ),
                "bin_width": Key(
                    Quantity("length", min=1e-4),
                    default=f"{default_of(PMFSettings, 'bin_width_nm')!r} nm",
                ),
                "decorrelate": Key(Bool(), default=default_of(PMFSettings, "decorrelate")),
            }
        ),
        _CPU,
        f"{_TASKS}:pmf_task",
        "separation PMF and binding free energy by MBAR over the upstream umbrella windows",
        requires=("umbrella",),
    ),
    TaskKind(
        "competition",
        "analysis",
        Record(
            {
                "config": Key(
                    Str(),
                    required=True,
                    doc="competition config (rankbind compete format), relative to the protocol file",
                ),
                "affinities": Key(
                    Str(choices=("config", "prodigy")),
                    default="config",
                    doc="prodigy: RANK/OPG Kd from this run's PRODIGY estimates (upstream contacts)",
                ),
            }
        ),
        _CPU,
        f"{_TASKS}:competition_task",
        "competitive binding equilibria (RANKL vs RANK/OPG/denosumab) and scenarios",
    ),
    TaskKind(
        "cited_competition",
        "analysis",
        Record(
            {
                "inputs": Key(
                    Str(), doc="cited inputs file (default: seeds/competition_inputs.yaml)"
                ),
                "plots": Key(Bool(), default=True),
            }
        ),
        _CPU,
        "rankbind.competition.cited:cited_competition_task",
        "the seed scenarios (myeloma ratio, denosumab regimens, isoform decoys, OPG sinks) on "
        "cited inputs, with the upstream contacts tasks' PRODIGY affinities side by side",
        {"plots": False},
        requires=("contacts",),
    ),
    TaskKind(
        "benchmark",
        "analysis",
        Record(
            {
                "kind": Key(Str(choices=("docking", "affinity", "ddg")), required=True),
                "dataset": Key(
                    Str(), required=True, doc="benchmark directory, or 'rankbind' (3URF/4GIQ/3ME2)"
                ),
                "case": Key(Str(), required=True, doc="case id, e.g. 1AHW__paratope, 1S78"),
                "settings": Key(_FieldMap(), doc="fields of the kind's benchmark settings"),
                "include_rankbind": Key(Bool(), default=False),
            }
        ),
        _CPU,
        "rankbind.benchmark.suite:benchmark_task",
        "one case of an accuracy benchmark (rankbind benchmark): cases/<id>.json, resumable",
    ),
    TaskKind(
        "report",
        "report",
        Record(
            {
                "title": Key(Str(), default="rankbind report"),
                "models": Key(
                    ListOf(Str()),
                    doc="folders under structures/ whose committed *.report.json sections "
                    "(e.g. models/species_complexes) the report includes",
                ),
            }
        ),
        _CPU,
        f"{_TASKS}:report_task",
        "Markdown + HTML report of the whole run",
    ),
]
