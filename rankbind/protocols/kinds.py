"""The science task kinds a protocol can name, declared as data: phase, parameter
schema, default resources. Their implementations live in the science modules and are
attached with one ``register_task(name, function, stage=..., resources=...)`` line each
(at the end of this file) as those modules land. Until then a protocol naming a kind
validates, and running that stage reports that no implementation is registered.

Physics shared by all tasks (force field, solvent, temperature, timestep, ...) is in the
protocol's ``physics`` block, not repeated here.
"""

from __future__ import annotations

from rankbind.protocols.registry import Resources, declare_task, register_task
from rankbind.protocols.schema import (
    Bool,
    Key,
    ListOf,
    Number,
    Quantity,
    Record,
    Selection,
    Str,
)

_GPU = Resources(gpu=True, time="12:00:00")
_CPU = Resources(gpu=False, time="02:00:00")

_TIME = Quantity("time", min=0.0)
_POSITIVE_TIME = Quantity("time", min=1e-6)

declare_task(
    "prepare",
    "prepare",
    Record(
        {
            "ph": Key(Number(min=0, max=14), default=7.0, doc="protonation pH"),
            "minimize": Bool(),
            "padding": Key(Quantity("length", min=0.5, max=5.0), doc="solvent padding (explicit)"),
            "keep_crystal_waters": Key(Bool(), default=False),
        }
    ),
    _CPU,
    "PDBFixer preparation: missing atoms, hydrogens at pH, solvent, OpenMM System",
)
declare_task(
    "equilibrate",
    "equilibrate",
    Record(
        {
            "length": Key(_TIME, required=True, doc="simulated time"),
            "minimize": Key(Bool(), default=True),
            "minimize_iterations": Key(
                Number(integer=True, min=0), default=1000, doc="L-BFGS cap (0: to convergence)"
            ),
            "restraint": Key(Quantity("force_constant", min=0.0), doc="heavy-atom restraint"),
            "report_interval": Key(_POSITIVE_TIME, default="10 ps"),
        }
    ),
    _GPU,
    "minimisation and short restrained relaxation",
)
declare_task(
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
    "production MD; one task per replica, resumable from its checkpoint",
)
declare_task(
    "contacts",
    "analysis",
    Record(
        {
            "cutoff": Key(Quantity("length", min=0.1, max=2.0), default="0.4 nm"),
        }
    ),
    _CPU,
    "footprints on RANKL, interface chemistry, PRODIGY and the competition map "
    "of the systems' crystal assemblies",
)
declare_task(
    "mmgbsa",
    "analysis",
    Record(
        {
            "receptor": Key(Selection(), required=True),
            "ligand": Key(Selection(), required=True),
            "gb_model": Key(Str(choices=("GBn2", "OBC2")), default="GBn2"),
            "salt": Key(Quantity("concentration", min=0.0, max=2.0), default="0.15 M"),
            "stride": Key(Number(integer=True, min=1), default=1),
        }
    ),
    _CPU,
    "MM/GBSA binding energy per frame with block-averaged uncertainty",
)
declare_task(
    "alanine_scan",
    "analysis",
    Record(
        {
            "residues": Key(ListOf(Selection(), min_len=1), required=True),
            "receptor": Key(Selection(), required=True),
            "ligand": Key(Selection(), required=True),
            "stride": Key(Number(integer=True, min=1), default=1),
        }
    ),
    _CPU,
    "computational alanine scan: ΔΔG of X->Ala at interface residues by MM/GBSA",
)
declare_task(
    "umbrella",
    "production",
    Record(
        {
            "group1": Key(Selection(), required=True),
            "group2": Key(Selection(), required=True),
            "force_constant": Key(Quantity("force_constant", min=0.0), required=True),
            "length": Key(_POSITIVE_TIME, required=True, doc="sampling per window"),
            "report_interval": Key(_POSITIVE_TIME, default="1 ps"),
        }
    ),
    _GPU,
    "one umbrella window on the centre-of-mass distance group1-group2 (stage windows)",
)
declare_task(
    "pmf",
    "analysis",
    Record(
        {
            "estimator": Key(Str(choices=("mbar", "wham")), default="mbar"),
            "bins": Key(Number(integer=True, min=2), default=50),
            "discard": Key(_TIME, default="0 ps", doc="equilibration discarded per window"),
        }
    ),
    _CPU,
    "potential of mean force and binding free energy from umbrella windows",
)
declare_task(
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
                doc="prodigy: RANK/OPG Kd from this run's PRODIGY estimates of the crystal interfaces",
            ),
        }
    ),
    _CPU,
    "competitive binding equilibria (RANKL vs RANK/OPG/denosumab) and scenarios",
)
declare_task(
    "report",
    "report",
    Record(
        {
            "formats": Key(ListOf(Str(choices=("md", "html", "json")), min_len=1), default=["md"]),
            "title": Key(Str()),
        }
    ),
    _CPU,
    "collect results of all stages into one report",
)

# Implementations: one line per kind as the science modules land, e.g.
#   register_task("simulate", "rankbind.simulation:production_task", stage="production")
# ("module:function" strings are imported only when a task of the kind runs).
register_task("prepare", "rankbind.protocols.tasks:prepare_task", stage="prepare")
register_task("equilibrate", "rankbind.protocols.tasks:equilibrate_task", stage="equilibrate")
register_task("simulate", "rankbind.protocols.tasks:simulate_task", stage="production")
register_task("contacts", "rankbind.protocols.tasks:contacts_task", stage="analysis")
register_task("mmgbsa", "rankbind.protocols.tasks:mmgbsa_task", stage="analysis")
register_task("competition", "rankbind.protocols.tasks:competition_task", stage="analysis")
register_task("report", "rankbind.protocols.tasks:report_task", stage="report")
