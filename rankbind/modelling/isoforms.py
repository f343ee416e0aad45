"""Isoforms and constructs as cited data (``seeds/isoform_constructs.yaml``).

:func:`isoform_properties` gives what the competition model needs (anchored or soluble,
valency, the structural construct, source, confidence); :func:`build_construct` builds the
construct's assembly from the catalogue; :func:`apply_isoforms` applies a protocol's
``isoforms: {MOLECULE: NAME}`` to a system's assembly.

Isoform sequences (:func:`isoform_sequence`) are derived from the UniProt canonical
sequence and the isoform's alternative-sequence (VSP) feature in the UniProt feature table
(``structures/sequences/uniprot_features``), and must match the ``sequence.retained``
ranges written in the seeds file. :func:`isoform_effects` computes, from those data and the
structures, what an isoform changes: membrane anchoring (is the TM segment retained?),
valency, and whether every receptor-contact residue is retained (binding sites).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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


def uniprot_features(accession: str) -> list[dict]:
    """Rows of the UniProt feature table (GFF) of ``accession``: type, start, end, note, id."""
    from rankbind.structures import structures_dir

    files = sorted(
        (structures_dir() / "sequences" / "uniprot_features").glob(f"*_{accession}_*.gff")
    )
    if not files:
        raise StructureError(f"no UniProt feature table for {accession} in structures/sequences")
    rows = []
    for line in files[0].read_text().splitlines():
        fields = line.split("\t")
        if line.startswith("#") or len(fields) < 9:
            continue
        attrs = dict(kv.split("=", 1) for kv in fields[8].split(";") if "=" in kv)
        rows.append({"type": fields[2], "start": int(fields[3]), "end": int(fields[4]),
                     "note": attrs.get("Note", ""), "id": attrs.get("ID", "")})  # fmt: skip
    return rows


def isoform_sequence(name: str) -> tuple[str, list[int]]:
    """(sequence, canonical UniProt number of each residue) of isoform ``name``.

    Derived from the canonical FASTA and, where the seeds give a ``vsp``, by applying that
    UniProt "Missing" feature; the retained ranges must equal ``sequence.retained``."""
    from rankbind.structures.sequences import fasta_sequence

    rec = load_isoform_data()["isoforms"].get(name)
    if rec is None or "sequence" not in rec:
        raise StructureError(f"{seeds_path()}: isoform '{name}' has no 'sequence' block")
    seq = rec["sequence"]
    canonical = fasta_sequence(seq["fasta"], "sp")
    numbers = list(range(1, len(canonical) + 1))
    if seq.get("vsp"):
        match = [f for f in uniprot_features(seq["uniprot"]) if f["id"] == seq["vsp"]]
        if not match or "Missing" not in match[0]["note"]:
            raise StructureError(
                f"{seeds_path()}: isoform '{name}': {seq['vsp']} is not a 'Missing' alternative "
                f"sequence in the UniProt {seq['uniprot']} feature table"
            )
        numbers = [n for n in numbers if not match[0]["start"] <= n <= match[0]["end"]]
    retained = [list(span) for span in _spans(numbers)]
    if retained != [list(r) for r in seq["retained"]]:
        raise StructureError(
            f"{seeds_path()}: isoform '{name}': sequence.retained {seq['retained']} disagrees "
            f"with the UniProt data ({retained})"
        )
    return "".join(canonical[n - 1] for n in numbers), numbers


def _spans(numbers: list[int]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], n)
        else:
            spans.append((n, n))
    return spans


def isoform_effects(name: str) -> dict:
    """What isoform ``name`` changes, computed from the sequence data and the structures:
    TM segment retained (membrane anchoring), receptor-binding residues retained, valency
    (from the seeds), the modelled construct, and agreement with the seeds' ``anchored``."""
    from rankbind.modelling.docking import interface_residues, molecule_from_assembly

    props = isoform_properties(name)
    seq, numbers = isoform_sequence(name)
    rec = load_isoform_data()["isoforms"][name]["sequence"]
    kept = set(numbers)
    tm = [f for f in uniprot_features(rec["uniprot"]) if f["type"] == "Transmembrane"]
    tm_kept = [f"{f['start']}-{f['end']}" for f in tm if f["start"] in kept and f["end"] in kept]
    # Binding residues: this protein's residues within 5 Å of its partner in the complex.
    entry = "3URF" if props.protein == "RANKL" else props.construct.entry
    complex_ = build_assembly(entry, "trimer_receptor")
    own = ["A", "B", "C"] if props.protein == "RANKL" else ["R"]
    partner = ["R"] if props.protein == "RANKL" else ["A", "B", "C"]
    contact = interface_residues(
        molecule_from_assembly(complex_, own), molecule_from_assembly(complex_, partner).xyz, 5.0
    )
    binding = sorted({n for _, n in contact})
    lost = [n for n in binding if n not in kept]
    anchored = bool(tm_kept)
    return {
        "isoform": name,
        "protein": props.protein,
        "uniprot": rec["uniprot"],
        "length": len(seq),
        "retained": rec["retained"],
        "transmembrane_segments": [f"{f['start']}-{f['end']}" for f in tm],
        "transmembrane_retained": tm_kept,
        "membrane_anchored": anchored,
        "anchored_agrees_with_seeds": anchored == props.anchored,
        "valency": props.valency,
        "binding_residues_from": f"{entry} trimer_receptor, {props.protein} residues within 5 Å of the partner",
        "binding_residues": binding,
        "binding_residues_lost": lost,
        "binding_sites_remaining": (
            f"all {props.valency} receptor grooves"
            if props.protein == "RANKL"
            else "the one RANKL-binding site"
        )
        if not lost
        else f"binding residues lost: {lost}",
        "construct": props.construct.__dict__,
        "modelled_part": props.modelled_part,
        "confidence": props.confidence,
        "boundaries_confidence": props.boundaries_confidence,
    }


def apply_isoforms(assembly: Assembly, isoforms: dict[str, str]) -> Assembly:
    """A system's assembly with ``isoforms`` ({molecule: isoform name}, e.g.
    ``{"RANK": "RANK-c"}``) applied: every chain of that molecule is cut to the isoform's
    retained residues (the modelled ectodomains of RANKL3 and RANK-c lie wholly inside
    them, so their coordinates are unchanged) and provenance records the isoform."""
    out = assembly
    records = []
    for molecule, name in isoforms.items():
        props = isoform_properties(name)
        if props.protein != molecule.upper():
            raise StructureError(f"isoform '{name}' is a {props.protein} isoform, not {molecule}")
        _, numbers = isoform_sequence(name)
        kept = set(numbers)
        for info in out.chains_of(props.protein):
            present = out.residue_numbers(info.chain_id)
            cut = [n for n in present if n not in kept]
            if cut:
                out = replace(out, atoms=[a for a in out.atoms
                                          if a.chain != info.chain_id or a.resseq in kept])  # fmt: skip
            record = {"chain": info.chain_id, "isoform": name, "residues_removed": cut}
            if info.species != "human":
                record["note"] = (
                    f"isoform boundaries are human UniProt numbers; chain {info.chain_id} is "
                    f"{info.species} (use the human model, e.g. HUMAN_RANK_4GIQ, for RANK-c)"
                )
            records.append(record)
    out = replace(out, provenance=dict(out.provenance) | {"isoforms": records})
    return out


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
