"""Build a protocol system's assembly from its keys, calling the modelling API.

- ``entry`` + ``kind``: the catalogue assembly (rankbind.structures.build_assembly);
  ``file``: a PDB written by rankbind (chain records say what each chain is).
- ``isoforms`` {MOLECULE: ISOFORM}: each chain of MOLECULE cut to the isoform's construct
  range (seeds/isoform_constructs.yaml via rankbind.modelling.isoforms).
- ``model`` {species, sequences: {MOLECULE: FASTA}}: the FASTA's first record (full-length,
  UniProt numbering from 1) threaded onto every chain of MOLECULE
  (rankbind.modelling.threading.thread): a homology model.
- ``mutations`` [MOLECULE[/CHAIN]:WTnNEW]: rankbind.modelling.mutations.mutate on each named
  chain (every chain of the molecule when none is named).
- ``fab`` {antibody: denosumab, rotations, pose}: the denosumab Fv model docked onto the
  entry's RANKL trimer (rankbind.modelling.pipelines.denosumab_dock); the pose of that rank.
- ``extract`` [selections]: then keep only these residues (rankbind.structures.assembly.extract).

Returns the assembly and a record of what was built and from which files (sha256): only
inputs actually used.
"""

from __future__ import annotations

import json
from pathlib import Path

from rankbind.errors import ProtocolError
from rankbind.fileio import sha256_file
from rankbind.structures import Assembly, build_assembly, structures_dir
from rankbind.structures.assembly import read_assembly


def read_fasta(path: str | Path) -> tuple[str, str]:
    """(header, sequence) of the first record of a FASTA file."""
    header, lines = None, []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith(">"):
            if header is not None:
                break
            header = line[1:]
        elif line and header is not None:
            lines.append(line)
    if header is None or not lines:
        raise ProtocolError(f"{path}: no FASTA record")
    return header, "".join(lines)


def _chains_of(assembly: Assembly, molecule: str, chain: str | None = None) -> list[str]:
    return [
        c.chain_id
        for c in assembly.chains
        if c.molecule == molecule and (chain is None or c.chain_id == chain)
    ]


def build_system(system: dict, work_dir: str | Path, seed: int) -> tuple[Assembly, dict]:
    """The assembly of a validated protocol system and the record of how it was built."""
    record: dict = {"inputs": {}}
    if "file" in system:
        record["inputs"][system["file"]] = sha256_file(system["file"])
        return read_assembly(system["file"]), record
    assembly = build_assembly(system["entry"], system["kind"])
    record["built"] = f"{system['entry']} {system['kind']}"
    if "isoforms" in system:
        assembly = _isoforms(assembly, system["isoforms"], record)
    elif "model" in system:
        assembly = _model(assembly, system["model"], record)
    elif "mutations" in system:
        assembly = _mutations(assembly, system["mutations"], record)
    elif "fab" in system:
        assembly = _fab(system, Path(work_dir), record)
    if "extract" in system:
        from rankbind.structures.assembly import extract

        assembly = extract(assembly, system["extract"])
        record["extracted"] = system["extract"]
    return assembly, record


def _isoforms(assembly: Assembly, isoforms: dict[str, str], record: dict) -> Assembly:
    from rankbind.modelling.isoforms import isoform_properties, seeds_path
    from rankbind.modelling.mutations import truncate

    record["isoforms"] = {}
    for molecule, name in isoforms.items():
        props = isoform_properties(name)
        c = props.construct
        for chain_id in _chains_of(assembly, molecule):
            assembly = truncate(assembly, chain_id, c.first, c.last)
        record["isoforms"][molecule] = {
            "isoform": name,
            "construct": f"{c.entry} {molecule} {c.first}-{c.last}",
            "modelled_part": props.modelled_part,
            "confidence": props.confidence,
            "boundaries_confidence": props.boundaries_confidence,
        }
    record["inputs"][str(seeds_path())] = sha256_file(seeds_path())
    assembly.provenance = dict(assembly.provenance) | {"isoforms": record["isoforms"]}
    return assembly


def _model(assembly: Assembly, model: dict, record: dict) -> Assembly:
    from rankbind.modelling.threading import Target, thread

    targets = {}
    for molecule, path in model["sequences"].items():
        header, sequence = read_fasta(path)
        fields = header.split("|")
        uniprot = fields[1] if len(fields) > 2 and fields[0] in ("sp", "tr") else None
        record["inputs"][path] = sha256_file(path)
        for chain_id in _chains_of(assembly, molecule):
            targets[chain_id] = Target(
                sequence, 1, model["species"], uniprot, f"{model['species']} {molecule}"
            )
    result = thread(assembly, targets, name=f"{assembly.name}_{model['species']}_model")
    record["model"] = {
        "species": model["species"],
        "label": "MODEL: threaded homology model, not an experimental structure",
        "threading": result.report,
    }
    return result.assembly


def _mutations(assembly: Assembly, mutations: list[str], record: dict) -> Assembly:
    from rankbind.modelling.mutations import mutate

    per_chain = []
    for text in mutations:
        target, _, change = text.partition(":")
        molecule, _, chain = target.partition("/")
        chains = _chains_of(assembly, molecule, chain or None)
        if not chains:
            raise ProtocolError(f"mutation {text}: no chain {target} in {assembly.name}")
        per_chain += [f"{c}:{change}" for c in chains]
    result = mutate(assembly, per_chain)
    record["mutations"] = {"requested": mutations, "applied": per_chain, "threading": result.report}
    return result.assembly


def _fab(system: dict, work_dir: Path, record: dict) -> Assembly:
    from rankbind.modelling.pipelines import denosumab_dock

    fab = system["fab"]
    target = "human" if system["entry"] == "3URF" else "mouse"
    ensemble = denosumab_dock(target, fab["rotations"], str(work_dir / "docking"))
    poses = ensemble["poses"]
    if fab["pose"] > len(poses):
        raise ProtocolError(f"fab.pose {fab['pose']}: docking kept only {len(poses)} poses")
    pose = work_dir / "docking" / poses[fab["pose"] - 1]["file"]
    sequences = structures_dir() / "sequences" / "denosumab.fasta"
    record["inputs"][str(sequences)] = sha256_file(sequences)
    record["fab"] = {
        "antibody": fab["antibody"],
        "label": ensemble["label"],
        "pose": poses[fab["pose"] - 1],
        "docking": json.loads(json.dumps(ensemble["provenance"], default=str)),
    }
    return read_assembly(pose)
