"""Binder footprints on RANKL, residue numbering across species, and the competition map.

A footprint is the set of RANKL residues within ``cutoff`` (closest heavy atoms) of one
binder copy, with contact frequency and buried SASA, in UniProt numbering of the entry's
species and mapped to the reference numbering: **human RANKL (UniProt O14788)**. Mouse
RANKL (O35235) numbers are mapped by a global alignment of the observed residues of the
two structures (:func:`rankbind.structures.sequences.align_numbering`: BLOSUM62, gap open
-10, extend -0.5, end gaps free).

Competition criterion (``compare``): two binders are *mutually exclusive at a site* when,
after superposing the second complex's RANKL trimer onto the first's (CA atoms of aligned
residues, every cyclic assignment of protomers tried so that each groove is tested), the two
binder copies in the same groove have at least ``CLASH_PAIRS`` heavy-atom pairs closer than
``CLASH_DISTANCE_NM``. Otherwise they *can co-bind*. Without coordinates the fallback is
footprint overlap: shared residues >= ``OVERLAP_FRACTION`` of the smaller footprint.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field

import mdtraj
import numpy as np

from rankbind.analysis import contacts, interface
from rankbind.errors import SelectionError
from rankbind.fileio import atomic_open
from rankbind.structures.geometry import count_pairs_within, nearest_distances, superpose
from rankbind.structures.sequences import (  # noqa: F401 (NumberingMap: part of this API)
    NumberingMap,
    align_numbering,
    identity_numbering,
    one_letter,
)

REFERENCE_SPECIES = "human"
REFERENCE_UNIPROT = "O14788"
CLASH_DISTANCE_NM = 0.30
CLASH_PAIRS = 10
OVERLAP_FRACTION = 0.25


# --- numbering --------------------------------------------------------------------------


def observed_sequence(topology, chains, selection: str) -> tuple[list[int], str]:
    """(UniProt numbers, one-letter sequence) of the observed residues of ``selection``
    (one chain, e.g. ``"RANKL/A"``)."""
    residues = list(topology.residues)
    index = contacts.select(topology, chains, selection)
    return [residues[i].resSeq for i in index], "".join(one_letter(residues[i].name) for i in index)


# --- footprints -------------------------------------------------------------------------


@dataclass
class FootprintResidue:
    chain: str
    number: int  # UniProt number in the entry's species
    reference_number: int | None  # human RANKL number (None: no aligned position)
    resname: str
    frequency: float  # fraction of frames in contact
    buried_sasa: float  # Å², mean over frames


@dataclass
class Footprint:
    """RANKL residues contacted by one binder copy (see module docstring)."""

    name: str
    binder: str
    species: str
    cutoff_nm: float
    residues: list[FootprintResidue]
    buried_sasa_total: float | None  # Å², binder + RANKL sides, mean over frames
    n_frames: int
    numbering: NumberingMap
    provenance: dict = field(default_factory=dict)

    @property
    def protomers(self) -> list[str]:
        return sorted({r.chain for r in self.residues})

    def reference_numbers(self) -> set[int]:
        return {r.reference_number for r in self.residues if r.reference_number is not None}

    def buried_by_number(self) -> dict[int, float]:
        out: dict[int, float] = {}
        for r in self.residues:
            if r.reference_number is not None:
                out[r.reference_number] = out.get(r.reference_number, 0.0) + r.buried_sasa
        return out

    def to_json(self) -> dict:
        data = asdict(self)
        data["numbering"] = self.numbering.to_json()
        data["protomers"] = self.protomers
        return data


def footprint(
    trajectory: mdtraj.Trajectory,
    chains,
    binder: str,
    target: str = "RANKL",
    cutoff: float = 0.40,
    numbering: NumberingMap | None = None,
    name: str | None = None,
    species: str = REFERENCE_SPECIES,
    with_sasa: bool = True,
) -> Footprint:
    """Footprint of ``binder`` (a selection, e.g. ``"OPG/R"`` or, for a Fab,
    ``"FAB_HEAVY/H+FAB_LIGHT/L"``) on ``target`` (all its
    protomers). ``numbering`` maps the target's numbers to the reference (identity when
    omitted: the target is already human RANKL)."""
    top = trajectory.topology
    target_res = contacts.select(top, chains, target)
    binder_res = contacts.select(top, chains, binder)
    iface = contacts.interface(trajectory, target_res, binder_res, cutoff=cutoff)
    if not iface.residues_a:
        raise SelectionError(f"{binder} makes no contact with {target} within {cutoff} nm")
    buried: dict[int, float] = {}
    total = None
    if with_sasa:
        bsa = interface.buried_sasa(trajectory, target_res, binder_res)
        buried = bsa.mean_by_residue()
        total = float(bsa.total.mean())
    residues = list(top.residues)
    if numbering is None:
        numbering = identity_numbering(sorted({residues[i].resSeq for i in target_res}), target)
    out = []
    for idx, freq in sorted(iface.residues_a.items()):
        res = residues[idx]
        out.append(
            FootprintResidue(
                res.chain.chain_id,
                res.resSeq,
                numbering.mapping.get(res.resSeq),
                res.name,
                float(freq),
                float(buried.get(idx, 0.0)),
            )
        )
    return Footprint(name or binder, binder, species, cutoff, out, total, iface.n_frames, numbering)


def protein_trajectory(assembly) -> mdtraj.Trajectory:
    """The protein atoms of a :class:`~rankbind.structures.Assembly` as a 1-frame trajectory."""
    traj = assembly.to_mdtraj()
    return traj.atom_slice(traj.topology.select("protein"))


def reference_sequence() -> tuple[list[int], str]:
    """Observed human RANKL residues of 3URF chain A: the reference numbering."""
    from rankbind.structures import build_assembly

    asu = build_assembly("3URF", "asu")
    return observed_sequence(protein_trajectory(asu).topology, asu.chains, "RANKL/A")


def numbering_for(trajectory, chains, target: str = "RANKL") -> NumberingMap:
    """Map ``target`` numbering of a structure onto human RANKL: identity for human chains,
    an alignment of the observed residues against 3URF chain A otherwise."""
    info = next((c for c in chains if c.molecule == target), None)
    if info is None:
        raise SelectionError(f"no {target} chain (chains: {[c.chain_id for c in chains]})")
    own = observed_sequence(trajectory.topology, chains, f"{target}/{info.chain_id}")
    if info.species == REFERENCE_SPECIES:
        return identity_numbering(own[0], f"{info.species} {target} {info.uniprot}")
    return align_numbering(
        own,
        reference_sequence(),
        f"{info.species} {target} {info.uniprot}",
        f"{REFERENCE_SPECIES} {target} {REFERENCE_UNIPROT} (3URF chain A)",
    )


def binder_label(binder: str) -> str:
    """'OPG/R' -> 'OPG'; 'FAB_HEAVY/H+FAB_LIGHT/L' -> 'FAB_HEAVY+FAB_LIGHT'."""
    names = [part.strip().split("/")[0].split(":")[0] for part in binder.split("+")]
    return "+".join(dict.fromkeys(names))


def entry_footprint(
    assembly, binder: str, name: str | None = None, cutoff: float = 0.40
) -> tuple[Footprint, Complex]:
    """Footprint of ``binder`` (e.g. ``"OPG/R"``) in an assembly, in human numbering,
    plus the :class:`Complex` needed for the steric competition test."""
    traj = protein_trajectory(assembly)
    numbering = numbering_for(traj, assembly.chains)
    species = next((c.species for c in assembly.chains if c.molecule == "RANKL"), "unknown")
    fp = footprint(
        traj,
        assembly.chains,
        binder,
        cutoff=cutoff,
        numbering=numbering,
        name=name or f"{binder_label(binder)} ({assembly.name})",
        species=species,
    )
    fp.provenance = dict(assembly.provenance)
    return fp, Complex(traj, assembly.chains, binder, numbering)


# --- competition ------------------------------------------------------------------------


@dataclass
class Complex:
    """Coordinates needed to test steric overlap: a frame, chain records, the binder
    selection of the footprint and the map to reference numbering."""

    trajectory: mdtraj.Trajectory
    chains: tuple
    binder: str
    numbering: NumberingMap
    target: str = "RANKL"


def _ca_by_number(c: Complex) -> dict[str, dict[int, np.ndarray]]:
    top = c.trajectory.topology
    out: dict[str, dict[int, np.ndarray]] = {}
    for idx in contacts.select(top, c.chains, c.target):
        res = top.residue(int(idx))
        ref = c.numbering.mapping.get(res.resSeq)
        ca = [a.index for a in res.atoms if a.name == "CA"]
        if ref is not None and ca:
            out.setdefault(res.chain.chain_id, {})[ref] = c.trajectory.xyz[0, ca[0]]
    return out


def _heavy_xyz(c: Complex) -> np.ndarray:
    top = c.trajectory.topology
    wanted = set(contacts.select(top, c.chains, c.binder).tolist())
    atoms = [
        a.index
        for a in top.atoms
        if a.residue.index in wanted and (a.element is None or a.element.symbol != "H")
    ]
    return c.trajectory.xyz[0, atoms].astype(float)


def steric_overlap(first: Complex, second: Complex) -> dict:
    """Superpose ``second``'s target protomers on ``first``'s (each cyclic assignment) and
    count binder–binder heavy-atom pairs closer than CLASH_DISTANCE_NM. Returns the
    assignment with most clashes (the shared groove): pairs, min distance, RMSD."""
    ca1, ca2 = _ca_by_number(first), _ca_by_number(second)
    chains1, chains2 = sorted(ca1), sorted(ca2)
    if len(chains1) != len(chains2):
        raise SelectionError(
            f"cannot superpose {len(chains2)} target protomers onto {len(chains1)}"
        )
    b1, b2 = _heavy_xyz(first), _heavy_xyz(second)
    best = None
    for shift in range(len(chains1)):
        order = chains2[shift:] + chains2[:shift]
        x1, x2 = [], []
        for c1, c2 in zip(chains1, order, strict=True):
            common = sorted(set(ca1[c1]) & set(ca2[c2]))
            x1 += [ca1[c1][n] for n in common]
            x2 += [ca2[c2][n] for n in common]
        fit = superpose(np.array(x2), np.array(x1))
        moved = fit.apply(b2)
        n_clash = count_pairs_within(b1, moved, CLASH_DISTANCE_NM)
        result = {
            "assignment": dict(zip(order, chains1, strict=True)),
            "ca_rmsd_nm": fit.rmsd,
            "n_ca": len(x1),
            "clash_pairs": n_clash,
            "min_distance_nm": float(nearest_distances(b1, moved).min()),
        }
        if best is None or n_clash > best["clash_pairs"]:
            best = result
    return best


@dataclass
class PairComparison:
    first: str
    second: str
    shared: list[int]  # reference RANKL numbers
    jaccard: float
    shared_buried_sasa: float  # Å², sum over shared residues of min(buried a, buried b)
    steric: dict | None
    verdict: str  # "exclusive" or "co-bind"
    criterion: str


def compare(
    a: Footprint, b: Footprint, complex_a: Complex | None = None, complex_b: Complex | None = None
) -> PairComparison:
    """Shared residues, Jaccard index, shared buried area and the competition verdict."""
    sa, sb = a.reference_numbers(), b.reference_numbers()
    shared = sorted(sa & sb)
    union = sa | sb
    ba, bb = a.buried_by_number(), b.buried_by_number()
    shared_area = float(sum(min(ba.get(n, 0.0), bb.get(n, 0.0)) for n in shared))
    steric = None
    if complex_a is not None and complex_b is not None:
        steric = steric_overlap(complex_a, complex_b)
        exclusive = steric["clash_pairs"] >= CLASH_PAIRS
        criterion = (
            f"{steric['clash_pairs']} binder heavy-atom pairs < {CLASH_DISTANCE_NM} nm after "
            f"trimer superposition (exclusive if >= {CLASH_PAIRS})"
        )
    else:
        smaller = min(len(sa), len(sb)) or 1
        exclusive = len(shared) >= OVERLAP_FRACTION * smaller
        criterion = (
            f"{len(shared)} shared residues of {smaller} in the smaller footprint "
            f"(exclusive if >= {OVERLAP_FRACTION:.0%}; no coordinates for a steric test)"
        )
    return PairComparison(
        a.name,
        b.name,
        shared,
        len(shared) / len(union) if union else 0.0,
        shared_area,
        steric,
        "exclusive" if exclusive else "co-bind",
        criterion,
    )


@dataclass
class CompetitionMap:
    footprints: list[Footprint]
    pairs: list[PairComparison]

    def residue_table(self) -> list[dict]:
        """One row per reference RANKL residue used by any binder."""
        numbers = sorted(set().union(*(f.reference_numbers() for f in self.footprints)))
        rows = []
        for n in numbers:
            row = {"rankl_residue_human": n, "binders": []}
            for f in self.footprints:
                hits = [r for r in f.residues if r.reference_number == n]
                if hits:
                    row["binders"].append(f.name)
                    row[f"{f.name}:resname"] = hits[0].resname
                    row[f"{f.name}:frequency"] = max(h.frequency for h in hits)
                    row[f"{f.name}:buried_sasa"] = sum(h.buried_sasa for h in hits)
            row["binders"] = ";".join(row["binders"])
            rows.append(row)
        return rows

    def to_json(self) -> dict:
        return {
            "reference_numbering": f"{REFERENCE_SPECIES} RANKL UniProt {REFERENCE_UNIPROT}",
            "criterion": __doc__.split("Competition criterion")[1].strip(),
            "footprints": [f.to_json() for f in self.footprints],
            "pairs": [asdict(p) for p in self.pairs],
            "residues": self.residue_table(),
        }


def competition_map(
    footprints: list[Footprint], complexes: list[Complex | None] | None = None
) -> CompetitionMap:
    """Compare every pair of footprints (steric test where both complexes are given)."""
    complexes = complexes or [None] * len(footprints)
    pairs = [
        compare(footprints[i], footprints[j], complexes[i], complexes[j])
        for i in range(len(footprints))
        for j in range(i + 1, len(footprints))
    ]
    return CompetitionMap(footprints, pairs)


def write_residue_csv(path, cmap: CompetitionMap) -> None:
    """Atomically write the per-residue table as CSV."""
    import csv

    rows = cmap.residue_table()
    keys = ["rankl_residue_human", "binders"] + sorted(
        {k for r in rows for k in r} - {"rankl_residue_human", "binders"}
    )
    with atomic_open(path, "w") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys, restval="")
        writer.writeheader()
        writer.writerows(rows)


def groove_sides(fps: list[Footprint]) -> dict[str, dict[str, int]]:
    """footprint name -> {protomer chain: 1 or 2}: which side of the groove each protomer
    forms, matched by shared reference numbers to the first footprint's protomers."""
    first = fps[0]
    ref = [{r.reference_number for r in first.residues if r.chain == c} for c in first.protomers]
    out = {}
    for f in fps:
        sides = {}
        for c in f.protomers:
            numbers = {r.reference_number for r in f.residues if r.chain == c}
            sides[c] = 1 if len(numbers & ref[0]) >= len(numbers & ref[-1]) else 2
        out[f.name] = sides
    return out


def plot_competition(path, cmap: CompetitionMap) -> None:
    """PNG: footprints along the human RANKL sequence (one row per binder, colour = side
    of the groove, marker size = contact frequency) and the pairwise Jaccard matrix annotated with the verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fps = cmap.footprints
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(14, 1.2 + 0.6 * len(fps) + 2), gridspec_kw={"width_ratios": [3, 1]}
    )
    sides = groove_sides(fps)
    colours = {1: "tab:blue", 2: "tab:orange"}
    for row, f in enumerate(fps):
        for r in f.residues:
            if r.reference_number is not None:
                colour = colours[sides[f.name][r.chain]]
                ax1.scatter(r.reference_number, row, color=colour, s=12 + 40 * r.frequency)
    for side, colour in colours.items():
        ax1.scatter([], [], color=colour, label=f"groove side {side} protomer")
    ax1.set_yticks(range(len(fps)), [f.name for f in fps])
    ax1.set_xlabel("RANKL residue (human UniProt O14788 numbering)")
    ax1.set_ylim(-0.7, len(fps) - 0.3)
    ax1.legend(loc="upper left", fontsize=7, ncol=3)
    ax1.set_title("Binder footprints on RANKL")
    n = len(fps)
    mat = np.eye(n)
    names = [f.name for f in fps]
    for p in cmap.pairs:
        i, j = names.index(p.first), names.index(p.second)
        mat[i, j] = mat[j, i] = p.jaccard
    im = ax2.imshow(mat, vmin=0, vmax=1, cmap="viridis")
    for p in cmap.pairs:
        i, j = names.index(p.first), names.index(p.second)
        for x, y in ((i, j), (j, i)):
            ax2.text(
                y,
                x,
                f"{p.jaccard:.2f}\n{'X' if p.verdict == 'exclusive' else 'co'}",
                ha="center",
                va="center",
                fontsize=7,
                color="w",
            )
    ax2.set_xticks(range(n), names, rotation=45, ha="right", fontsize=7)
    ax2.set_yticks(range(n), names, fontsize=7)
    ax2.set_title("Jaccard (X = exclusive)")
    fig.colorbar(im, ax=ax2, fraction=0.046)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())
