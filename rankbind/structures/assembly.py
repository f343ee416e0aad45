"""Biological assemblies from REMARK 350 BIOMT operators, renumbered to UniProt.

Chain naming in every assembly: RANKL protomers ``A``, ``B``, ``C`` (BIOMT operators
1, 2, 3); receptors (RANK or OPG) ``R``, ``S``, ``T`` (same operators); Fab heavy and
light chains ``H`` and ``L``. Residue numbers of chains with a UniProt accession are
UniProt numbers, so ``RANKL:233`` means the same residue in every entry of a species.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from rankbind.errors import StructureError
from rankbind.structures.catalogue import ChainSpec, Entry, get_entry
from rankbind.structures.geometry import count_pairs_within
from rankbind.structures.pdbfile import AMINO_ACIDS, Atom, PDBData, format_atom, read_pdb, transform

KINDS = ("asu", "trimer", "hexamer", "trimer_receptor", "interface", "fab")
LIGAND_CHAIN_IDS = ("A", "B", "C")
RECEPTOR_CHAIN_IDS = ("R", "S", "T")
RECEPTOR_MOLECULES = ("RANK", "OPG")
CONTACT_CUTOFF_ANGSTROM = 4.5


@dataclass(frozen=True)
class ChainInfo:
    """One chain of an assembly: what it is and where it came from."""

    chain_id: str
    molecule: str
    species: str
    uniprot: str | None
    source_chain: str
    operator: int
    numbering: str  # "uniprot" or "pdb"


@dataclass
class Assembly:
    """Coordinates (Å) of an assembly plus the records PDBFixer needs.

    ``atoms`` are polymer ATOM records followed by HETATM records; ``ssbonds`` pairs
    (chain, resseq) in the assembly's numbering."""

    name: str
    kind: str
    chains: tuple[ChainInfo, ...]
    atoms: list[Atom]
    seqres: dict[str, list[str]] = field(default_factory=dict)
    ssbonds: list[tuple[tuple[str, int], tuple[str, int]]] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)

    def chain(self, chain_id: str) -> ChainInfo:
        for info in self.chains:
            if info.chain_id == chain_id:
                return info
        raise StructureError(
            f"{self.name}: no chain '{chain_id}' (chains: {', '.join(self.chain_ids())})"
        )

    def chain_ids(self) -> list[str]:
        return [c.chain_id for c in self.chains]

    def chains_of(self, molecule: str) -> list[ChainInfo]:
        return [c for c in self.chains if c.molecule == molecule]

    def coordinates(self, chain_ids: list[str] | None = None, heavy: bool = False) -> np.ndarray:
        """(n_atoms, 3) polymer coordinates in Å of the given chains (all by default)."""
        wanted = set(chain_ids or self.chain_ids())
        rows = [
            a.xyz
            for a in self.atoms
            if a.record == "ATOM" and a.chain in wanted and not (heavy and a.element == "H")
        ]
        return np.array(rows, dtype=float).reshape(-1, 3)

    def residue_numbers(self, chain_id: str) -> list[int]:
        seen: dict[int, None] = {}
        for a in self.atoms:
            if a.chain == chain_id and a.record == "ATOM":
                seen.setdefault(a.resseq)
        return list(seen)

    def to_pdb_text(self) -> str:
        """PDB text with provenance REMARKs, SEQRES, SSBOND, ATOM/TER, HETATM, END."""
        out = [f"REMARK 250 RANKBIND ASSEMBLY {self.name} ({self.kind})"]
        out += chain_records(self.chains)
        for chain_id, names in self.seqres.items():
            for row, start in enumerate(range(0, len(names), 13), start=1):
                chunk = " ".join(f"{n:>3}" for n in names[start : start + 13])
                out.append(f"SEQRES {row:>3} {chain_id} {len(names):>4}  {chunk}")
        for k, ((c1, r1), (c2, r2)) in enumerate(self.ssbonds, start=1):
            out.append(f"SSBOND {k:>3} CYS {c1} {r1:>4}    CYS {c2} {r2:>4}".ljust(80))
        serial = 1
        for info in self.chains:
            last = None
            split_gaps = not self.seqres.get(info.chain_id)
            for atom in self.atoms:
                if atom.record == "ATOM" and atom.chain == info.chain_id:
                    if split_gaps and last is not None and atom.resseq > last.resseq + 1:
                        # no SEQRES to rebuild from: a gap ends the peptide (TER)
                        out.append(
                            f"TER   {serial:>5}      {last.resname:>3} {last.chain}{last.resseq:>4}"
                        )
                        serial += 1
                    out.append(format_atom(atom, serial))
                    serial += 1
                    last = atom
            if last is not None:
                out.append(f"TER   {serial:>5}      {last.resname:>3} {last.chain}{last.resseq:>4}")
                serial += 1
        for atom in self.atoms:
            if atom.record == "HETATM":
                out.append(format_atom(atom, serial))
                serial += 1
        out.append("END")
        return "\n".join(out) + "\n"

    def write_pdb(self, path: str | Path) -> None:
        from rankbind.fileio import write_text

        write_text(path, self.to_pdb_text())

    def to_openmm(self):
        """(Topology, positions) of the polymer and hetero atoms through OpenMM's PDBFile."""
        from openmm.app import PDBFile

        pdb = PDBFile(io.StringIO(self.to_pdb_text()))
        return pdb.topology, pdb.positions

    def to_mdtraj(self):
        """An mdtraj Trajectory (one frame, nm) of the assembly."""
        import mdtraj

        topology, positions = self.to_openmm()
        from openmm import unit

        xyz = np.array(positions.value_in_unit(unit.nanometer))[None]
        return mdtraj.Trajectory(xyz, mdtraj.Topology.from_openmm(topology))


def chain_records(chains: tuple[ChainInfo, ...]) -> list[str]:
    """``REMARK 250 CHAIN`` lines saying what each chain is (read by read_chain_records)."""
    return [
        f"REMARK 250 CHAIN {info.chain_id} {info.molecule} {info.species} "
        f"UNIPROT={info.uniprot or '-'} SOURCE={info.source_chain} "
        f"BIOMT={info.operator} NUMBERING={info.numbering}"
        for info in chains
    ]


_CHAIN_RECORD = re.compile(
    r"^REMARK 250 CHAIN (\S) (\S+) (.+?) UNIPROT=(\S+) SOURCE=(\S+) BIOMT=(\d+) NUMBERING=(\S+)"
)


def read_chain_records(path: str | Path) -> tuple[ChainInfo, ...]:
    """The ``REMARK 250 CHAIN`` records :meth:`Assembly.to_pdb_text` writes, as ChainInfo."""
    path = Path(path)
    if not path.is_file():
        raise StructureError(f"{path}: no such file")
    chains = []
    for line in path.read_text(errors="replace").splitlines():
        match = _CHAIN_RECORD.match(line)
        if match:
            cid, molecule, species, uniprot, source, op, numbering = match.groups()
            chains.append(
                ChainInfo(cid, molecule, species, None if uniprot == "-" else uniprot, source,
                          int(op), numbering)
            )  # fmt: skip
    return tuple(chains)


def read_assembly(path: str | Path) -> Assembly:
    """An Assembly from a PDB file rankbind wrote (its ``REMARK 250 CHAIN`` records say
    what each chain is); numbering is kept as written."""
    records = read_chain_records(path)
    if not records:
        raise StructureError(
            f"{path}: no 'REMARK 250 CHAIN' records; write the structure with rankbind "
            "(Assembly.write_pdb) or give chain identities (from_pdb)"
        )
    specs = {
        c.chain_id: ChainSpec(c.chain_id, c.molecule, c.species, c.uniprot, None) for c in records
    }
    assembly = from_pdb(path, specs)
    return replace(assembly, chains=records)


def _check_chains(pdb: PDBData, specs: dict[str, ChainSpec], where: str) -> None:
    for chain in pdb.chains():
        if chain not in specs:
            raise StructureError(
                f"{where}: chain '{chain}' is not described in the catalogue "
                f"(described: {', '.join(specs) or 'none'})"
            )
    present = set(pdb.chains())
    for chain in specs:
        if chain not in present:
            raise StructureError(f"{where}: catalogue chain '{chain}' has no atoms in the file")
    for atom in pdb.atoms:
        if atom.record == "ATOM" and atom.resname not in AMINO_ACIDS:
            raise StructureError(
                f"{where}: unknown residue {atom.resname} {atom.chain}:{atom.resseq}"
                f"{atom.icode} in a polymer chain (ATOM record); rankbind handles the 20 "
                "standard amino acids and their protonation variants"
            )


def _copy_chain(
    pdb: PDBData,
    spec: ChainSpec,
    operator,
    new_id: str,
) -> tuple[list[Atom], list[Atom], set[int]]:
    """Polymer and hetero atoms of ``spec.chain`` moved by ``operator`` and renamed, and
    the expression-tag residues left out (PDB numbering)."""
    offset = spec.uniprot_offset or 0
    rot = np.eye(3) if operator is None else operator.rotation
    trans = np.zeros(3) if operator is None else operator.translation
    polymer, hetero, tags = [], [], set()
    for atom in pdb.atoms:
        if atom.chain != spec.chain:
            continue
        if atom.record == "ATOM" and is_expression_tag(pdb, spec, atom.resseq):
            tags.add(atom.resseq)
            continue
        if atom.record == "ATOM":
            polymer.append(transform(atom, rot, trans, chain=new_id, resseq=atom.resseq + offset))
        else:
            hetero.append(transform(atom, rot, trans, chain=new_id))
    return polymer, hetero, tags


def is_expression_tag(pdb: PDBData, spec: ChainSpec, resseq: int) -> bool:
    """True for a residue (PDB numbering) that SEQADV or the catalogue marks as tag."""
    if (spec.chain, resseq) in pdb.expression_tags:
        return True
    return spec.expression_tag is not None and (
        spec.expression_tag[0] <= resseq <= spec.expression_tag[1]
    )


def _seqres_for(pdb: PDBData, spec: ChainSpec) -> list[str]:
    return list(pdb.seqres.get(spec.chain, []))


def from_pdb(
    path: str | Path,
    chains: dict[str, ChainSpec],
    name: str | None = None,
    provenance: dict | None = None,
) -> Assembly:
    """The asymmetric unit of any PDB file, given what each chain is (``chains``).
    Residues are renumbered to UniProt where a chain has an offset."""
    pdb = read_pdb(path)
    where = str(path)
    _check_chains(pdb, chains, where)
    return _build(
        pdb,
        chains,
        [(spec, None, spec.chain) for spec in chains.values()],
        name or Path(path).stem,
        "asu",
        provenance or {"file": str(path)},
    )


def _build(pdb, specs, plan, name, kind, provenance) -> Assembly:
    polymer: list[Atom] = []
    hetero: list[Atom] = []
    infos = []
    seqres = {}
    ssbonds = []
    removed: dict[str, list[int]] = {}  # observed tag residues per source chain
    for spec, operator, new_id in plan:
        p, h, tags = _copy_chain(pdb, spec, operator, new_id)
        polymer += p
        hetero += h
        if tags:
            removed[spec.chain] = sorted(tags)
        infos.append(
            ChainInfo(
                chain_id=new_id,
                molecule=spec.molecule,
                species=spec.species,
                uniprot=spec.uniprot,
                source_chain=spec.chain,
                operator=operator.index if operator is not None else 1,
                numbering="uniprot" if spec.uniprot_offset is not None else "pdb",
            )
        )
        seqres[new_id] = _seqres_for(pdb, spec)
        offset = spec.uniprot_offset or 0
        for (c1, r1, _), (c2, r2, _) in pdb.ssbonds:
            if c1 == spec.chain and c2 == spec.chain:
                ssbonds.append(((new_id, r1 + offset), (new_id, r2 + offset)))
    if removed:
        provenance = provenance | {"expression_tag_residues_removed_pdb_numbering": removed}
    return Assembly(name, kind, tuple(infos), polymer + hetero, seqres, ssbonds, provenance)


def build_assembly(entry: str | Entry, kind: str = "hexamer") -> Assembly:
    """Build an assembly of a catalogue entry.

    kind: ``asu`` (as deposited), ``trimer`` (RANKL x3), ``hexamer`` (RANKL x3 +
    receptor x3, the 3:3 complex), ``trimer_receptor`` (RANKL x3 + one receptor),
    ``interface`` (the two RANKL protomers lining one groove + that receptor) or
    ``fab`` (heavy + light chain of a Fab template)."""
    if kind not in KINDS:
        raise StructureError(f"unknown assembly kind '{kind}'; choose from {', '.join(KINDS)}")
    entry = get_entry(entry) if isinstance(entry, str) else entry
    pdb = read_pdb(entry.path)
    _check_chains(pdb, entry.chains, f"{entry.path} ({entry.name})")
    name = f"{entry.name}/{kind}"
    provenance = entry.provenance() | {"assembly": kind}
    if kind == "asu":
        plan = [(spec, None, spec.chain) for spec in entry.chains.values()]
        return _build(pdb, entry.chains, plan, name, kind, provenance)
    if kind == "fab":
        heavy, light = entry.chains_of("FAB_HEAVY"), entry.chains_of("FAB_LIGHT")
        if not heavy or not light:
            raise StructureError(
                f"{entry.name}: a 'fab' assembly needs FAB_HEAVY and FAB_LIGHT chains"
            )
        plan = [(heavy[0], None, "H"), (light[0], None, "L")]
        return _build(pdb, entry.chains, plan, name, kind, provenance)

    ligands = entry.chains_of("RANKL")
    receptors = [c for c in entry.chains.values() if c.molecule in RECEPTOR_MOLECULES]
    if not ligands:
        raise StructureError(f"{entry.name}: assembly '{kind}' needs a RANKL chain")
    if len(pdb.biomt) < 3:
        raise StructureError(
            f"{entry.path}: assembly '{kind}' needs 3 REMARK 350 BIOMT operators, found "
            f"{len(pdb.biomt)}"
        )
    ops = pdb.biomt[:3]
    ligand_plan = [(ligands[0], op, cid) for op, cid in zip(ops, LIGAND_CHAIN_IDS, strict=True)]
    if kind == "trimer":
        return _build(pdb, entry.chains, ligand_plan, name, kind, provenance)
    if not receptors:
        raise StructureError(f"{entry.name}: assembly '{kind}' needs a RANK or OPG chain")
    receptor = receptors[0]
    if kind == "hexamer":
        receptor_plan = [
            (receptor, op, cid) for op, cid in zip(ops, RECEPTOR_CHAIN_IDS, strict=True)
        ]
        return _build(pdb, entry.chains, ligand_plan + receptor_plan, name, kind, provenance)
    receptor_plan = [(receptor, ops[0], RECEPTOR_CHAIN_IDS[0])]
    if kind == "trimer_receptor":
        return _build(pdb, entry.chains, ligand_plan + receptor_plan, name, kind, provenance)

    # interface: the two protomers the receptor touches most
    full = _build(pdb, entry.chains, ligand_plan + receptor_plan, name, kind, provenance)
    rec_xyz = full.coordinates([RECEPTOR_CHAIN_IDS[0]], heavy=True)
    counts = {
        cid: count_pairs_within(
            full.coordinates([cid], heavy=True), rec_xyz, CONTACT_CUTOFF_ANGSTROM
        )
        for cid in LIGAND_CHAIN_IDS
    }
    groove = sorted(LIGAND_CHAIN_IDS, key=lambda c: -counts[c])[:2]
    if min(counts[c] for c in groove) == 0:
        raise StructureError(
            f"{entry.name}: the receptor does not contact two RANKL protomers "
            f"(atom contacts within {CONTACT_CUTOFF_ANGSTROM} Å: {counts})"
        )
    keep = [item for item in ligand_plan if item[2] in groove] + receptor_plan
    result = _build(pdb, entry.chains, keep, name, kind, provenance)
    result.provenance["groove_contacts"] = counts
    return result


def extract(assembly: Assembly, selections: list[str], name: str | None = None) -> Assembly:
    """A fragment of ``assembly`` holding only the residues matched by ``selections``
    (see :mod:`rankbind.structures.selection`). SEQRES is dropped, so PDBFixer does not
    rebuild what was cut away; gaps become chain breaks (TER), capped as free termini."""
    from rankbind.structures.selection import select_union

    present = {c.chain_id: assembly.residue_numbers(c.chain_id) for c in assembly.chains}
    keep = set(select_union(assembly.chains, present, selections))
    atoms = [a for a in assembly.atoms if a.record == "ATOM" and (a.chain, a.resseq) in keep]
    chains = tuple(c for c in assembly.chains if any(k[0] == c.chain_id for k in keep))
    ssbonds = [b for b in assembly.ssbonds if b[0] in keep and b[1] in keep]
    provenance = assembly.provenance | {"extract": list(selections), "parent": assembly.name}
    return Assembly(
        name or f"{assembly.name}[{';'.join(selections)}]",
        assembly.kind,
        chains,
        atoms,
        {},
        ssbonds,
        provenance,
    )


def with_atoms(assembly: Assembly, atoms: list[Atom], name: str | None = None) -> Assembly:
    """A copy of ``assembly`` with a new atom list (same chains and records)."""
    return replace(assembly, atoms=atoms, name=name or assembly.name)
