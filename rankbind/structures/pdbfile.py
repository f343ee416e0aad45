"""Fixed-column PDB parsing and writing for the records rankbind uses.

Coordinates are kept in ångström here (the PDB convention); everything downstream
of :mod:`rankbind.structures.assembly` works in nm through OpenMM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from rankbind.errors import StructureError

AMINO_ACIDS = frozenset(
    "ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL "
    "HID HIE HIP HSD HSE HSP CYX ASH GLH LYN ACE NME".split()
)
WATERS = frozenset({"HOH", "WAT", "H2O", "DOD", "TIP3", "SOL"})
GLYCANS = frozenset({"NAG", "NDG", "MAN", "BMA", "FUC", "GAL", "GLC", "SIA", "FUL", "BGC"})
IONS = frozenset({"NA", "CL", "K", "CA", "MG", "ZN", "SO4", "PO4", "IOD", "BR"})


@dataclass(frozen=True)
class Atom:
    """One ATOM/HETATM record. ``xyz`` in Å."""

    record: str
    serial: int
    name: str
    resname: str
    chain: str
    resseq: int
    icode: str
    xyz: tuple[float, float, float]
    occupancy: float
    bfactor: float
    element: str

    @property
    def residue_key(self) -> tuple[str, int, str]:
        return (self.chain, self.resseq, self.icode)


@dataclass(frozen=True)
class BiomtOperator:
    """A REMARK 350 BIOMT operator: x' = rotation @ x + translation (Å)."""

    index: int
    rotation: np.ndarray
    translation: np.ndarray
    chains: tuple[str, ...]


@dataclass
class PDBData:
    """The parsed content of one PDB file."""

    path: Path
    atoms: list[Atom]
    seqres: dict[str, list[str]] = field(default_factory=dict)
    ssbonds: list[tuple[tuple[str, int, str], tuple[str, int, str]]] = field(default_factory=list)
    biomt: list[BiomtOperator] = field(default_factory=list)
    missing_residues: list[tuple[str, int, str, str]] = field(default_factory=list)
    expression_tags: set[tuple[str, int]] = field(default_factory=set)  # SEQADV (chain, resseq)
    cryst1: str | None = None

    def chains(self) -> list[str]:
        """Chain IDs in file order (ATOM records only)."""
        seen: dict[str, None] = {}
        for atom in self.atoms:
            if atom.record == "ATOM":
                seen.setdefault(atom.chain)
        return list(seen)

    def residues(self, chain: str) -> list[tuple[int, str, str]]:
        """Observed polymer residues of ``chain`` as (resseq, icode, resname), file order."""
        seen: dict[tuple[int, str], str] = {}
        for atom in self.atoms:
            if atom.chain == chain and atom.record == "ATOM":
                seen.setdefault((atom.resseq, atom.icode), atom.resname)
        return [(k[0], k[1], v) for k, v in seen.items()]


def _float(line: str, start: int, stop: int, path: Path, lineno: int, what: str) -> float:
    try:
        value = float(line[start:stop])
    except ValueError:
        raise StructureError(
            f"{path}:{lineno}: cannot read {what} from columns {start + 1}-{stop} "
            f"({line[start:stop]!r}); the file is truncated or not a PDB file"
        ) from None
    if not math.isfinite(value):
        raise StructureError(f"{path}:{lineno}: {what} is {value} (not a finite number)")
    return value


def _atom(line: str, path: Path, lineno: int) -> Atom:
    if len(line.rstrip("\n")) < 54:
        raise StructureError(
            f"{path}:{lineno}: {line[:6].strip()} record has {len(line.rstrip())} columns, "
            "fewer than the 54 needed for coordinates; the file is truncated"
        )
    x = _float(line, 30, 38, path, lineno, "x coordinate")
    y = _float(line, 38, 46, path, lineno, "y coordinate")
    z = _float(line, 46, 54, path, lineno, "z coordinate")
    try:
        resseq = int(line[22:26])
    except ValueError:
        raise StructureError(f"{path}:{lineno}: bad residue number {line[22:26]!r}") from None
    occupancy = float(line[54:60]) if line[54:60].strip() else 1.0
    bfactor = float(line[60:66]) if line[60:66].strip() else 0.0
    name = line[12:16].strip()
    element = line[76:78].strip() or name.lstrip("0123456789")[:1]
    serial_text = line[6:11].strip()
    return Atom(
        record=line[:6].strip(),
        serial=int(serial_text) if serial_text.isdigit() else 0,
        name=name,
        resname=line[17:20].strip(),
        chain=line[21],
        resseq=resseq,
        icode=line[26].strip(),
        xyz=(x, y, z),
        occupancy=occupancy,
        bfactor=bfactor,
        element=element,
    )


def read_pdb(path: str | Path) -> PDBData:
    """Parse ``path``. Keeps the first alternate location of each atom and the first
    MODEL. Raises :class:`StructureError` naming the file and line for truncated
    records, non-finite coordinates, or a missing END record."""
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise StructureError(
            f"{path}: not a PDB text file (binary content or not UTF-8/ASCII)"
        ) from None
    except OSError as exc:
        raise StructureError(f"{path}: cannot read structure file ({exc.strerror})") from None
    lines = text.splitlines()
    data = PDBData(path=path, atoms=[])
    biomt_rows: dict[int, list[list[float]]] = {}
    biomt_chains: dict[int, tuple[str, ...]] = {}
    current_chains: tuple[str, ...] = ()
    in_biomolecule_1 = False
    saw_end = False
    seen_atoms: set[tuple[str, int, str, str]] = set()
    for lineno, line in enumerate(lines, start=1):
        record = line[:6]
        if record in ("ATOM  ", "HETATM"):
            altloc = line[16] if len(line) > 16 else " "
            atom = _atom(line, path, lineno)
            key = (atom.chain, atom.resseq, atom.icode, atom.name)
            if key in seen_atoms and altloc != " ":
                continue
            seen_atoms.add(key)
            data.atoms.append(atom)
        elif record == "SEQRES":
            data.seqres.setdefault(line[11], []).extend(line[19:].split())
        elif record == "SSBOND":
            try:
                a = (line[15], int(line[17:21]), line[21:22].strip())
                b = (line[29], int(line[31:35]), line[35:36].strip())
            except (IndexError, ValueError):
                raise StructureError(f"{path}:{lineno}: malformed SSBOND record {line!r}") from None
            data.ssbonds.append((a, b))
        elif record == "SEQADV" and "EXPRESSION TAG" in line:
            try:
                data.expression_tags.add((line[16], int(line[18:22])))
            except ValueError:
                raise StructureError(f"{path}:{lineno}: malformed SEQADV record {line!r}") from None
        elif record == "CRYST1":
            data.cryst1 = line
        elif record == "REMARK" and line[7:10] == "350":
            body = line[11:]
            if body.startswith("BIOMOLECULE:"):
                in_biomolecule_1 = body.split(":")[1].strip() == "1"
            elif not in_biomolecule_1:
                continue
            elif "APPLY THE FOLLOWING TO CHAINS:" in body or "AND CHAINS:" in body:
                listed = body.split(":", 1)[1].replace(",", " ").split()
                current_chains = (
                    current_chains + tuple(listed) if "AND CHAINS" in body else tuple(listed)
                )
            elif body.lstrip().startswith("BIOMT"):
                fields = body.split()
                index = int(fields[1])
                biomt_rows.setdefault(index, []).append([float(v) for v in fields[2:6]])
                biomt_chains[index] = current_chains
        elif record == "REMARK" and line[7:10] == "465":
            fields = line[10:].split()
            if len(fields) >= 3 and fields[0].isalpha() and fields[-1].lstrip("-").isdigit():
                if fields[0] in ("RES", "M"):
                    continue
                resname, chain, resseq = fields[-3], fields[-2], int(fields[-1])
                data.missing_residues.append((chain, resseq, "", resname))
        elif record.startswith("END") and not record.startswith("ENDMDL"):
            saw_end = True
            break
        elif record.startswith("ENDMDL"):
            saw_end = True
            break
    if not data.atoms:
        raise StructureError(f"{path}: no ATOM or HETATM records; not a coordinate file")
    if not saw_end:
        raise StructureError(
            f"{path}: no END record after line {len(lines)}; the file looks truncated"
        )
    for index in sorted(biomt_rows):
        rows = np.array(biomt_rows[index])
        if rows.shape != (3, 4):
            raise StructureError(f"{path}: REMARK 350 BIOMT operator {index} is incomplete")
        data.biomt.append(BiomtOperator(index, rows[:, :3], rows[:, 3], biomt_chains[index]))
    return data


def format_atom(atom: Atom, serial: int) -> str:
    """One PDB ATOM/HETATM line (80 columns)."""
    name = atom.name if len(atom.name) == 4 else f" {atom.name:<3}"
    x, y, z = atom.xyz
    return (
        f"{atom.record:<6}{serial % 100000:>5} {name:<4} {atom.resname:>3} {atom.chain}"
        f"{atom.resseq:>4}{atom.icode or ' ':1}   {x:8.3f}{y:8.3f}{z:8.3f}"
        f"{atom.occupancy:6.2f}{atom.bfactor:6.2f}          {atom.element:>2}  "
    )


def transform(atom: Atom, rotation: np.ndarray, translation: np.ndarray, **changes) -> Atom:
    """A copy of ``atom`` moved by ``rotation @ xyz + translation`` (Å) with field changes."""
    xyz = rotation @ np.asarray(atom.xyz) + translation
    return replace(atom, xyz=(float(xyz[0]), float(xyz[1]), float(xyz[2])), **changes)
