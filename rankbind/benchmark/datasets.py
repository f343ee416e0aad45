"""Parsers for the benchmark sets rankbind is measured on.

Two layouts (see ``/work/shared/benchmarks/README.md`` for provenance):

* **antibody_benchmark** (Guest et al. 2021, Structure 29:606; Docking Benchmark 5.5
  antibody cases): ``cases.tsv`` (``Complex PDB`` as ``CODE_RECCHAINS:LIGCHAINS``, difficulty
  ``Category``), ``affinities.tsv`` (Kd nM, ΔG kcal/mol) and ``pdbs/<CODE>_{r,l}_{u,b}.pdb``
  (``r`` antibody, ``l`` antigen; ``u`` unbound, ``b`` bound; pre-superposed).
* **ab_bind** (Sirin et al. 2016, Protein Sci. 25:393): ``ddg.csv`` with one row per variant,
  ``Partners(A_B)`` giving the chains of both partners (each may be several chains) and
  ``Mutation`` as comma-separated ``CHAIN:WTnumINSMUT`` (insertion codes such as ``H:Y100aA``).

rankbind's own crystal complexes (3URF, 4GIQ, 3ME2) are added as bound docking/affinity
cases by :func:`rankbind_cases`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rankbind.errors import RankbindError

CATEGORIES = ("Rigid", "Medium", "Difficult")


class BenchmarkDataError(RankbindError):
    """A benchmark file is missing or holds a value that cannot be read."""


@dataclass(frozen=True)
class DockingCase:
    """One docking/affinity case: receptor = antibody (``r``), ligand = antigen (``l``)."""

    name: str
    receptor_chains: tuple[str, ...]
    ligand_chains: tuple[str, ...]
    category: str
    receptor_bound: Path
    ligand_bound: Path
    receptor_unbound: Path | None = None
    ligand_unbound: Path | None = None
    antibody: str = ""
    antigen: str = ""
    interface_rmsd_angstrom: float | None = None
    new: bool = False
    dg_exp_kcal_per_mol: float | None = None
    kd_exp_nM: float | None = None
    source: str = "antibody_benchmark"

    def as_dict(self) -> dict:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, Path):
                out[key] = str(value)
        return out


@dataclass(frozen=True)
class Mutation:
    """One substitution in PDB numbering; ``icode`` is the insertion code ('' if none)."""

    chain: str
    wild_type: str
    number: int
    icode: str
    new: str

    def __str__(self) -> str:
        return f"{self.chain}:{self.wild_type}{self.number}{self.icode}{self.new}"

    @property
    def residue_key(self) -> tuple[str, int, str]:
        return (self.chain, self.number, self.icode)


_MUTATION = re.compile(r"^([A-Za-z0-9]):([A-Z])(-?\d+)([a-z]?)([A-Z])$")


def parse_mutation(text: str, where: str = "") -> Mutation:
    """``'H:Y100aA'`` -> Mutation('H', 'Y', 100, 'a', 'A'). Insertion codes are kept as
    written (AB-Bind uses lower case; PDB files use upper case, see :func:`icode_matches`)."""
    m = _MUTATION.match(text.strip())
    if not m:
        raise BenchmarkDataError(
            f"{where}: bad mutation {text!r}; expected CHAIN:WT NUMBER [INSERTION] NEW, "
            "e.g. 'H:Y100aA'"
        )
    return Mutation(m[1], m[2], int(m[3]), m[4], m[5])


def icode_matches(a: str, b: str) -> bool:
    return a.strip().upper() == b.strip().upper()


@dataclass(frozen=True)
class Variant:
    """One AB-Bind row: mutations applied together, experimental ΔΔG (kcal/mol, >0 weaker)."""

    complex: str
    structure: Path
    partner_a: tuple[str, ...]
    partner_b: tuple[str, ...]
    mutations: tuple[Mutation, ...]
    ddg_exp_kcal_per_mol: float
    assay: str = ""
    row: int = 0
    unparsed: str = ""  # the raw Mutation text when it cannot be parsed (e.g. deletions)

    @property
    def label(self) -> str:
        return self.unparsed or ",".join(str(m) for m in self.mutations)

    @property
    def is_single(self) -> bool:
        return len(self.mutations) == 1 and not self.unparsed

    @property
    def is_alanine(self) -> bool:
        return (
            bool(self.mutations) and not self.unparsed and all(m.new == "A" for m in self.mutations)
        )

    def as_dict(self) -> dict:
        return {
            "complex": self.complex,
            "structure": str(self.structure),
            "partner_a": list(self.partner_a),
            "partner_b": list(self.partner_b),
            "mutations": self.label,
            "ddg_exp_kcal_per_mol": self.ddg_exp_kcal_per_mol,
            "assay": self.assay,
            "row": self.row,
        }


def _read_tsv(path: Path) -> list[dict]:
    if not path.is_file():
        raise BenchmarkDataError(f"{path}: no such file")
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _float(value: str, path: Path, row: int, column: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BenchmarkDataError(
            f"{path}: row {row}: column {column!r}: {value!r} is not a number"
        ) from None


def parse_complex_field(text: str, path: Path, row: int) -> tuple[str, tuple, tuple]:
    """``'1AHW_AB:C'`` -> ('1AHW', ('A', 'B'), ('C',))."""
    m = re.fullmatch(r"(\w{4})_(\w+):(\w+)", text.strip())
    if not m:
        raise BenchmarkDataError(
            f"{path}: row {row}: column 'Complex PDB': {text!r} is not CODE_RECCHAINS:LIGCHAINS"
        )
    return m[1], tuple(m[2]), tuple(m[3])


def load_affinities(directory: str | Path) -> dict[str, tuple[float, float]]:
    """``affinities.tsv`` -> {case: (Kd nM, ΔG kcal/mol)}."""
    path = Path(directory) / "affinities.tsv"
    out = {}
    for i, row in enumerate(_read_tsv(path), start=2):
        case = row["Case"].strip()
        out[case] = (
            _float(row["Kd (nM)"], path, i, "Kd (nM)"),
            _float(row["ΔG (kcal/mol)"], path, i, "ΔG (kcal/mol)"),
        )
    return out


def load_antibody_benchmark(directory: str | Path) -> list[DockingCase]:
    """All cases of an antibody_benchmark directory, with ΔG where ``affinities.tsv`` has it."""
    root = Path(directory)
    path = root / "cases.tsv"
    affinities = load_affinities(root) if (root / "affinities.tsv").is_file() else {}
    cases = []
    for i, row in enumerate(_read_tsv(path), start=2):
        code, rec, lig = parse_complex_field(row["Complex PDB"], path, i)
        category = row.get("Category", "").strip()
        if category not in CATEGORIES:
            raise BenchmarkDataError(
                f"{path}: row {i}: column 'Category': {category!r} is not one of {CATEGORIES}"
            )
        files = {k: root / "pdbs" / f"{code}_{k}.pdb" for k in ("r_b", "l_b", "r_u", "l_u")}
        for key in ("r_b", "l_b"):
            if not files[key].is_file():
                raise BenchmarkDataError(f"{path}: row {i}: case {code}: {files[key]} missing")
        irmsd = row.get("I-RMSD (Å)", "").strip()
        kd, dg = affinities.get(code, (None, None))
        cases.append(
            DockingCase(
                name=code,
                receptor_chains=rec,
                ligand_chains=lig,
                category=category,
                receptor_bound=files["r_b"],
                ligand_bound=files["l_b"],
                receptor_unbound=files["r_u"] if files["r_u"].is_file() else None,
                ligand_unbound=files["l_u"] if files["l_u"].is_file() else None,
                antibody=row.get("Antibody", "").strip(),
                antigen=row.get("Antigen", "").strip(),
                interface_rmsd_angstrom=_float(irmsd, path, i, "I-RMSD (Å)") if irmsd else None,
                new=row.get("New", "").strip() == "X",
                dg_exp_kcal_per_mol=dg,
                kd_exp_nM=kd,
            )
        )
    unknown = set(affinities) - {c.name for c in cases}
    if unknown:
        raise BenchmarkDataError(
            f"{root / 'affinities.tsv'}: cases {sorted(unknown)} are not in cases.tsv"
        )
    return cases


def load_ab_bind(directory: str | Path) -> list[Variant]:
    """Every row of ``ddg.csv``; multiple mutations stay together in one :class:`Variant`.
    Rows whose mutation text is not a list of substitutions (deletions) keep it in
    ``unparsed`` and have no mutations."""
    root = Path(directory)
    path = root / "ddg.csv"
    if not path.is_file():
        raise BenchmarkDataError(f"{path}: no such file")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for i, row in enumerate(rows, start=2):
        code = row["#PDB"].strip()
        partners = row["Partners(A_B)"].strip()
        if not re.fullmatch(r"\w+_\w+", partners):
            raise BenchmarkDataError(
                f"{path}: row {i}: column 'Partners(A_B)': {partners!r} is not CHAINS_CHAINS"
            )
        a, b = partners.split("_")
        text = row["Mutation"].strip()
        try:
            mutations = tuple(parse_mutation(t, f"{path}: row {i}") for t in text.split(","))
            unparsed = ""
        except BenchmarkDataError:
            mutations, unparsed = (), text
        structure = root / "pdbs" / f"{code}.pdb"
        if not structure.is_file():
            raise BenchmarkDataError(f"{path}: row {i}: structure {structure} missing")
        out.append(
            Variant(
                complex=code,
                structure=structure,
                partner_a=tuple(a),
                partner_b=tuple(b),
                mutations=mutations,
                ddg_exp_kcal_per_mol=_float(row["ddG(kcal/mol)"], path, i, "ddG(kcal/mol)"),
                assay=row.get("Assay Name", "").strip(),
                row=i,
                unparsed=unparsed,
            )
        )
    return out


def read_atoms(path: str | Path) -> list:
    """ATOM records of a benchmark PDB file (first model, first alternate location) as
    :class:`rankbind.structures.pdbfile.Atom`; unlike ``read_pdb`` no END record is needed
    (the benchmark files have none)."""
    from rankbind.structures.pdbfile import Atom

    path = Path(path)
    if not path.is_file():
        raise BenchmarkDataError(f"{path}: no such file")
    atoms, seen = [], set()
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith("ENDMDL"):
            break
        if not line.startswith("ATOM"):
            continue
        try:
            xyz = (float(line[30:38]), float(line[38:46]), float(line[46:54]))
            resseq = int(line[22:26])
        except ValueError:
            raise BenchmarkDataError(
                f"{path}:{lineno}: cannot read coordinates/residue number"
            ) from None
        name = line[12:16].strip()
        key = (line[21], resseq, line[26].strip(), name)
        if key in seen:  # a second alternate location
            continue
        seen.add(key)
        atoms.append(
            Atom(
                record="ATOM",
                serial=len(atoms) + 1,
                name=name,
                resname=line[17:20].strip(),
                chain=line[21],
                resseq=resseq,
                icode=line[26].strip(),
                xyz=xyz,
                occupancy=1.0,
                bfactor=0.0,
                element=line[76:78].strip() or name.lstrip("0123456789")[:1],
            )
        )
    return atoms


def chain_ids(atoms) -> list[str]:
    return list(dict.fromkeys(a.chain for a in atoms))


@dataclass(frozen=True)
class RankbindComplex:
    """A rankbind catalogue crystal complex used as a bound docking/affinity case."""

    entry: str
    kind: str = "interface"
    receptor_molecules: tuple[str, ...] = ("RANKL",)
    ligand_molecules: tuple[str, ...] = ("RANK", "OPG")
    extra: dict = field(default_factory=dict)


RANKBIND_COMPLEXES = ("3URF", "4GIQ", "3ME2")


def rankbind_cases(out_dir: str | Path, entries=RANKBIND_COMPLEXES) -> list[DockingCase]:
    """rankbind's crystal complexes as bound cases: the ``interface`` assembly (two RANKL
    protomers lining one groove + one receptor), written as receptor (RANKL, chains A-C)
    and ligand (RANK/OPG, chain R) PDB files under ``out_dir``. No experimental ΔG."""
    from rankbind.structures.assembly import build_assembly
    from rankbind.structures.pdbfile import format_atom

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for entry in entries:
        assembly = build_assembly(entry, "interface")
        rec = tuple(c.chain_id for c in assembly.chains if c.molecule == "RANKL")
        lig = tuple(c.chain_id for c in assembly.chains if c.molecule in ("RANK", "OPG"))
        files = {}
        for tag, chains in (("r_b", rec), ("l_b", lig)):
            lines = [
                format_atom(a, k)
                for k, a in enumerate(
                    (a for a in assembly.atoms if a.record == "ATOM" and a.chain in chains),
                    start=1,
                )
            ]
            files[tag] = out / f"{entry}_{tag}.pdb"
            from rankbind.fileio import write_text

            write_text(files[tag], "\n".join(lines) + "\nEND\n")
        cases.append(
            DockingCase(
                name=entry,
                receptor_chains=rec,
                ligand_chains=lig,
                category="Rigid",
                receptor_bound=files["r_b"],
                ligand_bound=files["l_b"],
                antibody="RANKL (receptor side: " + "+".join(rec) + ")",
                antigen="+".join(
                    sorted({c.molecule for c in assembly.chains if c.chain_id in lig})
                ),
                source="rankbind catalogue (bound docking only)",
            )
        )
    return cases
