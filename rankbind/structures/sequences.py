"""Sequences and residue numbering: one-letter codes, observed chain sequences, FASTA
records, THE pairwise aligner, numbering maps between species/constructs, comparisons.

Sequences come from the observed residues of catalogue structures and from the FASTA
files in ``structures/sequences``. Every alignment in rankbind is made by :func:`align`:
global (biopython ``PairwiseAligner``), BLOSUM62, gap open -10, extend -0.5, **end gaps
free** (score 0). Free end gaps are the rule because rankbind aligns fragments (the
observed residues of a crystal structure, a construct) to longer references (UniProt,
another species' structure): a penalised terminal overhang would pull the ends of the
fragment into spurious internal gaps. Every result keeps the aligned strings so a caller
can print or store them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from rankbind.errors import StructureError
from rankbind.structures.assembly import Assembly
from rankbind.structures.catalogue import structures_dir

THREE_TO_ONE = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E",
    "GLY": "G", "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F",
    "PRO": "P", "SER": "S", "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V",
    "HID": "H", "HIE": "H", "HIP": "H", "HSD": "H", "HSE": "H", "HSP": "H", "CYX": "C",
    "ASH": "D", "GLH": "E", "LYN": "K", "MSE": "M",
}  # fmt: skip
ONE_TO_THREE = {v: k for k, v in list(THREE_TO_ONE.items())[:20]}


def standard_name(resname: str) -> str:
    """The standard residue name of a protonation-state or modified amino-acid name (HIE,
    HIP -> HIS; CYX -> CYS; ASH -> ASP; MSE -> MET); other names unchanged."""
    return ONE_TO_THREE.get(THREE_TO_ONE.get(resname.upper(), ""), resname)


def one_letter(resname: str) -> str:
    """One-letter code of a residue name; 'X' for anything non-standard."""
    return THREE_TO_ONE.get(resname.upper(), "X")


@dataclass(frozen=True)
class ChainResidue:
    """One observed residue of an assembly chain (number in the assembly's numbering)."""

    chain: str
    number: int
    icode: str
    resname: str

    @property
    def code(self) -> str:
        return one_letter(self.resname)


def chain_residues(assembly: Assembly, chain_id: str) -> list[ChainResidue]:
    """Observed polymer residues of ``chain_id`` in file order (insertion codes kept)."""
    assembly.chain(chain_id)
    seen: dict[tuple[int, str], str] = {}
    for atom in assembly.atoms:
        if atom.record == "ATOM" and atom.chain == chain_id:
            seen.setdefault((atom.resseq, atom.icode), atom.resname)
    return [ChainResidue(chain_id, n, ic, name) for (n, ic), name in seen.items()]


def chain_sequence(assembly: Assembly, chain_id: str) -> str:
    """One-letter sequence of the observed residues of a chain."""
    return "".join(r.code for r in chain_residues(assembly, chain_id))


@cache
def _fasta(path: str) -> dict[str, str]:
    records: dict[str, str] = {}
    name = None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith(">"):
            name = line[1:].split()[0].split("|")[0]
            records[name] = ""
        elif line and name is not None:
            records[name] += line
    return records


def fasta_sequence(file: str, record: str) -> str:
    """Sequence ``record`` (first word of the header) from ``structures/sequences/<file>``."""
    path = structures_dir() / "sequences" / file
    if not path.is_file():
        raise StructureError(f"sequence file {path} not found")
    records = _fasta(str(path))
    if record not in records:
        raise StructureError(f"{path}: no record '{record}' (records: {', '.join(records)})")
    return records[record]


@dataclass(frozen=True)
class Alignment:
    """A global pairwise alignment of ``query`` (target) against ``reference``.

    ``pairs`` maps aligned positions: (query index or None, reference index or None), both
    0-based into the ungapped sequences. Identity is identical pairs / aligned pairs."""

    query: str
    reference: str
    aligned_query: str
    aligned_reference: str
    pairs: tuple[tuple[int | None, int | None], ...]
    score: float

    @property
    def n_aligned(self) -> int:
        return sum(1 for q, r in self.pairs if q is not None and r is not None)

    @property
    def n_identical(self) -> int:
        return sum(
            1
            for q, r in self.pairs
            if q is not None and r is not None and self.query[q] == self.reference[r]
        )

    @property
    def identity(self) -> float:
        return self.n_identical / max(self.n_aligned, 1)

    def query_to_reference(self) -> dict[int, int]:
        return {q: r for q, r in self.pairs if q is not None and r is not None}


#: The aligner settings (see the module docstring for why end gaps are free).
ALIGNER_SETTINGS = {
    "mode": "global",
    "substitution_matrix": "BLOSUM62",
    "open_gap_score": -10.0,
    "extend_gap_score": -0.5,
    "end_gap_score": 0.0,
}


@cache
def aligner():
    """The one biopython ``PairwiseAligner`` of rankbind, set up by ``ALIGNER_SETTINGS``."""
    from Bio import Align
    from Bio.Align import substitution_matrices

    out = Align.PairwiseAligner()
    out.mode = ALIGNER_SETTINGS["mode"]
    out.substitution_matrix = substitution_matrices.load(ALIGNER_SETTINGS["substitution_matrix"])
    out.open_gap_score = ALIGNER_SETTINGS["open_gap_score"]
    out.extend_gap_score = ALIGNER_SETTINGS["extend_gap_score"]
    out.end_gap_score = ALIGNER_SETTINGS["end_gap_score"]
    return out


def align(query: str, reference: str) -> Alignment:
    """Global protein alignment (BLOSUM62, open -10, extend -0.5; end gaps free)."""
    if not query or not reference:
        raise StructureError("cannot align an empty sequence")
    best = aligner().align(query, reference)[0]
    pairs: list[tuple[int | None, int | None]] = []
    # Walk the aligned blocks (coordinates) to build the column list.
    coords = [[int(v) for v in row] for row in best.coordinates]
    for k in range(len(coords[0]) - 1):
        q0, q1 = coords[0][k], coords[0][k + 1]
        r0, r1 = coords[1][k], coords[1][k + 1]
        if q1 > q0 and r1 > r0:
            for d in range(q1 - q0):
                pairs.append((q0 + d, r0 + d))
        elif q1 > q0:
            pairs.extend((q0 + d, None) for d in range(q1 - q0))
        else:
            pairs.extend((None, r0 + d) for d in range(r1 - r0))
    # Unaligned ends (coordinates start past 0 or end before the length).
    q_seen = {q for q, _ in pairs if q is not None}
    r_seen = {r for _, r in pairs if r is not None}
    lead = [(q, None) for q in range(len(query)) if q not in q_seen and q < coords[0][0]]
    lead += [(None, r) for r in range(len(reference)) if r not in r_seen and r < coords[1][0]]
    tail = [(q, None) for q in range(len(query)) if q not in q_seen and q >= coords[0][-1]]
    tail += [(None, r) for r in range(len(reference)) if r not in r_seen and r >= coords[1][-1]]
    pairs = lead + pairs + tail
    aq = "".join(query[q] if q is not None else "-" for q, _ in pairs)
    ar = "".join(reference[r] if r is not None else "-" for _, r in pairs)
    return Alignment(query, reference, aq, ar, tuple(pairs), float(best.score))


@dataclass(frozen=True)
class Difference:
    """A residue that differs between two aligned sequences, in both numberings."""

    number_a: int | None
    residue_a: str
    number_b: int | None
    residue_b: str
    region: str

    def label(self) -> str:
        a = f"{self.residue_a}{self.number_a}" if self.number_a is not None else "-"
        b = f"{self.residue_b}{self.number_b}" if self.number_b is not None else "-"
        return f"{a}/{b}"


@dataclass
class Comparison:
    """Identity and differing residues of sequence A (numbered from ``start_a``) vs B."""

    name_a: str
    name_b: str
    alignment: Alignment
    differences: list[Difference] = field(default_factory=list)

    @property
    def identity(self) -> float:
        return self.alignment.identity

    def by_region(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for d in self.differences:
            out.setdefault(d.region, []).append(d.label())
        return out

    def to_dict(self) -> dict:
        return {
            "a": self.name_a,
            "b": self.name_b,
            "identity": round(self.identity, 4),
            "n_aligned": self.alignment.n_aligned,
            "n_identical": self.alignment.n_identical,
            "aligned_a": self.alignment.aligned_query,
            "aligned_b": self.alignment.aligned_reference,
            "differences_by_region": self.by_region(),
        }


def compare(
    seq_a: str,
    numbers_a: list[int],
    seq_b: str,
    numbers_b: list[int],
    regions: dict[str, tuple[int, int]] | None = None,
    name_a: str = "a",
    name_b: str = "b",
) -> Comparison:
    """Align A to B and list every differing or gapped position.

    numbers_a/numbers_b: residue numbers of each sequence position (UniProt numbers).
    regions: name -> (first, last) in A's numbering; positions outside all regions, and
    gaps in A, are labelled by the nearest preceding region or 'other'."""
    if len(numbers_a) != len(seq_a) or len(numbers_b) != len(seq_b):
        raise StructureError("compare: each sequence needs one residue number per residue")
    aln = align(seq_a, seq_b)
    regions = regions or {}
    out = []
    last_a = None
    for qa, rb in aln.pairs:
        if qa is not None:
            last_a = numbers_a[qa]
        if qa is not None and rb is not None and seq_a[qa] == seq_b[rb]:
            continue
        number = numbers_a[qa] if qa is not None else last_a
        region = next(
            (n for n, (lo, hi) in regions.items() if number is not None and lo <= number <= hi),
            "other",
        )
        out.append(
            Difference(
                numbers_a[qa] if qa is not None else None,
                seq_a[qa] if qa is not None else "-",
                numbers_b[rb] if rb is not None else None,
                seq_b[rb] if rb is not None else "-",
                region,
            )
        )
    return Comparison(name_a, name_b, aln, out)


def uniprot_alignment(assembly: Assembly, chain_id: str, reference: str, first: int) -> dict:
    """Align an assembly chain to a reference sequence numbered from ``first`` (UniProt).

    Returns identity, the aligned strings, and whether the assembly's residue numbers
    equal the alignment's UniProt numbers for every aligned residue."""
    residues = chain_residues(assembly, chain_id)
    seq = "".join(r.code for r in residues)
    aln = align(seq, reference)
    mapping = aln.query_to_reference()
    mismatched = [residues[q].number for q, r in mapping.items() if residues[q].number != first + r]
    return {
        "chain": chain_id,
        "reference_first": first,
        "identity": round(aln.identity, 4),
        "n_aligned": aln.n_aligned,
        "aligned_chain": aln.aligned_query,
        "aligned_reference": aln.aligned_reference,
        "numbering_consistent": not mismatched,
        "numbering_mismatches": mismatched,
    }


@dataclass
class NumberingMap:
    """Residue-number mapping query -> reference from :func:`align`.
    ``mapping`` holds aligned (non-gap) positions only; identity over aligned positions;
    ``alignment``: the two aligned strings, one per line."""

    query: str
    reference: str
    mapping: dict[int, int]
    identity: float
    n_aligned: int
    alignment: str

    def to_json(self) -> dict:
        return asdict(self) | {"mapping": {str(k): v for k, v in self.mapping.items()}}


def align_numbering(
    query: tuple[list[int], str],
    reference: tuple[list[int], str],
    query_name: str = "query",
    reference_name: str = "reference",
) -> NumberingMap:
    """Map the residue numbers of ``query`` onto ``reference`` ((numbers, sequence) each)."""
    q_num, q_seq = query
    r_num, r_seq = reference
    if len(q_num) != len(q_seq) or len(r_num) != len(r_seq):
        raise StructureError("align_numbering: each sequence needs one number per residue")
    aln = align(q_seq, r_seq)
    mapping = {q_num[q]: r_num[r] for q, r in aln.query_to_reference().items()}
    return NumberingMap(
        query_name,
        reference_name,
        mapping,
        aln.identity,
        aln.n_aligned,
        f"{aln.aligned_query}\n{aln.aligned_reference}",
    )


def identity_numbering(numbers: list[int], name: str) -> NumberingMap:
    """The trivial map for a chain already in reference numbering."""
    return NumberingMap(name, name, {n: n for n in numbers}, 1.0, len(numbers), "")
