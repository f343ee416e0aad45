"""Isoforms and constructs as cited data (``seeds/isoform_constructs.yaml``).

:func:`isoform_properties` gives what the competition model needs (anchored or soluble,
valency, the structural construct, source, confidence); :func:`build_construct` builds the
construct's assembly from the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from rankbind.errors import StructureError
from rankbind.fileio import data_dir
from rankbind.modelling.mutations import select_chains, truncate
from rankbind.structures import Assembly, build_assembly


def seeds_path() -> Path:
    """``isoform_constructs.yaml`` in the seeds folder (:func:`rankbind.fileio.data_dir`)."""
    return data_dir("seeds") / "isoform_constructs.yaml"


@lru_cache(maxsize=1)
def load_isoform_data() -> dict:
    path = seeds_path()
    if not path.is_file():
        raise StructureError(f"{path} not found (isoform definitions)")
    data = yaml.safe_load(path.read_text())
    for key in ("isoforms", "segments", "variants", "sources"):
        if key not in data:
            raise StructureError(f"{path}: missing top-level field '{key}'")
    return data


@dataclass(frozen=True)
class Construct:
    """Residues ``first``..``last`` (UniProt) of ``chains`` in a catalogue assembly."""

    entry: str
    kind: str
    chains: tuple[str, ...]
    first: int
    last: int
    copies: int = 1
    species: str | None = None


@dataclass(frozen=True)
class IsoformProperties:
    """What an isoform is, for simulation and for the competition model."""

    name: str
    protein: str
    anchored: bool
    valency: int
    construct: Construct
    modelled_part: str
    source: tuple[str, ...]
    confidence: str
    boundaries_confidence: str


def isoform_names() -> list[str]:
    return list(load_isoform_data()["isoforms"])


def isoform_properties(name: str) -> IsoformProperties:
    """Properties of isoform ``name`` (e.g. 'RANKL3', 'RANK-c', 'OPG_CRD1-4')."""
    data = load_isoform_data()
    if name not in data["isoforms"]:
        raise StructureError(
            f"unknown isoform '{name}' in {seeds_path()} (known: {', '.join(data['isoforms'])})"
        )
    rec = data["isoforms"][name]
    try:
        c = rec["construct"]
        construct = Construct(
            entry=c["entry"],
            kind=c["kind"],
            chains=tuple(c["chains"]),
            first=int(c["first"]),
            last=int(c["last"]),
            copies=int(c.get("copies", 1)),
            species=c.get("species"),
        )
        sources = tuple(data["sources"][s] for s in rec["source"])
        return IsoformProperties(
            name=name,
            protein=rec["protein"],
            anchored=bool(rec["anchored"]),
            valency=int(rec["valency"]),
            construct=construct,
            modelled_part=rec["modelled_part"],
            source=sources,
            confidence=rec["confidence"],
            boundaries_confidence=rec.get("boundaries", {}).get("confidence", rec["confidence"]),
        )
    except KeyError as exc:
        raise StructureError(f"{seeds_path()}: isoform '{name}' lacks field {exc}") from None


def segment(name: str) -> dict:
    """A cited sequence segment (e.g. 'denosumab_epitope', 'exon5')."""
    segments = load_isoform_data()["segments"]
    if name not in segments:
        raise StructureError(f"unknown segment '{name}' (known: {', '.join(segments)})")
    return dict(segments[name])


def build_construct(name: str) -> Assembly:
    """The assembly to simulate for isoform ``name`` (one copy of the construct)."""
    props = isoform_properties(name)
    c = props.construct
    assembly = select_chains(build_assembly(c.entry, c.kind), list(c.chains))
    for chain_id in c.chains:
        assembly = truncate(assembly, chain_id, c.first, c.last)
    assembly.provenance = dict(assembly.provenance) | {
        "isoform": name,
        "isoform_confidence": props.confidence,
        "modelled_part": props.modelled_part,
        "isoform_source": list(props.source),
    }
    return assembly
