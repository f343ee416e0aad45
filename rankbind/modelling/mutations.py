"""Point mutants, truncations and segment swaps of an :class:`Assembly`.

Every operation returns a new assembly whose ``provenance["edits"]`` lists what was done,
appended to the input's provenance. Point mutations and swaps go through
:func:`rankbind.modelling.threading.thread` (side chains rebuilt by PDBFixer, restrained
minimisation); truncations only remove atoms.

Mutation syntax: ``CHAIN:WT NUMBER NEW`` without spaces, e.g. ``R:D182-`` (deletion),
``A:K180A``; NUMBER in the assembly's numbering (UniProt where the chain has it).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, replace

from rankbind.errors import SelectionError
from rankbind.modelling.threading import Target, ThreadingResult, thread
from rankbind.structures import Assembly
from rankbind.structures.sequences import ONE_TO_THREE, chain_residues

_MUTATION = re.compile(r"^(?P<chain>[A-Za-z0-9]):(?P<wt>[A-Z])(?P<num>-?\d+)(?P<new>[A-Z\-])$")


@dataclass(frozen=True)
class Mutation:
    """One residue change; ``new`` is '-' for a deletion."""

    chain: str
    wild_type: str
    number: int
    new: str

    def __str__(self) -> str:
        return f"{self.chain}:{self.wild_type}{self.number}{self.new}"


def parse_mutation(text: str) -> Mutation:
    match = _MUTATION.match(text.strip())
    if not match or (match["new"] != "-" and match["new"] not in ONE_TO_THREE):
        raise SelectionError(
            f"bad mutation '{text}': expected CHAIN:WT NUMBER NEW, e.g. 'A:K180A' or 'R:D182-'"
        )
    return Mutation(match["chain"], match["wt"], int(match["num"]), match["new"])


def chain_target(assembly: Assembly, chain_id: str) -> Target:
    """The chain's current observed sequence as a :class:`Target` (same numbering)."""
    info = assembly.chain(chain_id)
    residues = chain_residues(assembly, chain_id)
    if any(r.icode for r in residues):
        raise SelectionError(
            f"{assembly.name} chain {chain_id} uses insertion codes; renumber it before editing"
        )
    return Target(
        sequence="".join(r.code for r in residues),
        first=residues[0].number,
        species=info.species,
        uniprot=info.uniprot,
        label=f"{assembly.name}:{chain_id}",
        numbers=tuple(r.number for r in residues),
    )


def _with_edits(result: ThreadingResult, base: Assembly, edits: list[dict]) -> ThreadingResult:
    provenance = copy.deepcopy(base.provenance)
    provenance["model"] = True
    provenance["edits"] = list(provenance.get("edits", [])) + edits
    provenance["threading"] = result.report
    result.assembly.provenance = provenance
    return result


def mutate(assembly: Assembly, mutations: list[str], minimize: bool = True) -> ThreadingResult:
    """Apply point substitutions/deletions; each wild-type letter is checked."""
    parsed = [parse_mutation(m) for m in mutations]
    targets: dict[str, Target] = {}
    for chain_id in dict.fromkeys(m.chain for m in parsed):
        target = chain_target(assembly, chain_id)
        seq, numbers = list(target.sequence), list(target.numbers or ())
        for m in (m for m in parsed if m.chain == chain_id):
            if m.number not in numbers:
                raise SelectionError(
                    f"mutation {m}: residue {m.number} not present in chain {chain_id} "
                    f"({numbers[0]}-{numbers[-1]})"
                )
            k = numbers.index(m.number)
            if seq[k] != m.wild_type:
                raise SelectionError(
                    f"mutation {m}: residue {chain_id}:{m.number} is {seq[k]}, not {m.wild_type}"
                )
            seq[k] = m.new
        keep = [k for k, c in enumerate(seq) if c != "-"]
        targets[chain_id] = replace(
            target,
            sequence="".join(seq[k] for k in keep),
            numbers=tuple(numbers[k] for k in keep),
            label=f"{target.label} {' '.join(str(m) for m in parsed if m.chain == chain_id)}",
        )
    result = thread(assembly, targets, name=f"{assembly.name}+{'+'.join(mutations)}",
                    minimize=minimize)  # fmt: skip
    return _with_edits(result, assembly, [{"mutations": [str(m) for m in parsed]}])


def truncate(assembly: Assembly, chain_id: str, first: int, last: int) -> Assembly:
    """Keep residues ``first``..``last`` of ``chain_id`` (other chains unchanged)."""
    numbers = [r.number for r in chain_residues(assembly, chain_id)]
    if first > last or not any(first <= n <= last for n in numbers):
        raise SelectionError(
            f"truncate {chain_id}:{first}-{last}: no residues of chain {chain_id} "
            f"({numbers[0]}-{numbers[-1]}) in that range"
        )
    atoms = [
        a
        for a in assembly.atoms
        if a.chain != chain_id or (a.record == "ATOM" and first <= a.resseq <= last)
    ]
    provenance = copy.deepcopy(assembly.provenance)
    provenance["edits"] = list(provenance.get("edits", [])) + [
        {"truncate": {"chain": chain_id, "first": first, "last": last}}
    ]
    ssbonds = [
        pair
        for pair in assembly.ssbonds
        if all(c != chain_id or first <= n <= last for c, n in pair)
    ]
    return replace(
        assembly,
        atoms=atoms,
        ssbonds=ssbonds,
        name=f"{assembly.name}[{chain_id}:{first}-{last}]",
        provenance=provenance,
    )


def swap_segment(
    assembly: Assembly,
    chain_id: str,
    first: int,
    last: int,
    sequence: str,
    source: str,
    minimize: bool = True,
) -> ThreadingResult:
    """Replace residues ``first``..``last`` of a chain by ``sequence`` (from ``source``).

    Residues keep their numbers when the lengths match; otherwise the new segment is
    numbered from ``first`` and residues after it are shifted by the length change."""
    target = chain_target(assembly, chain_id)
    numbers = list(target.numbers or ())
    inside = [k for k, n in enumerate(numbers) if first <= n <= last]
    if not inside or numbers[inside[0]] != first or numbers[inside[-1]] != last:
        raise SelectionError(
            f"swap {chain_id}:{first}-{last}: both ends must be observed residues of chain "
            f"{chain_id} ({numbers[0]}-{numbers[-1]})"
        )
    lo, hi = inside[0], inside[-1]
    delta = len(sequence) - (hi - lo + 1)
    new_seq = target.sequence[:lo] + sequence + target.sequence[hi + 1 :]
    new_numbers = (
        numbers[:lo]
        + [first + k for k in range(len(sequence))]
        + [n + delta for n in numbers[hi + 1 :]]
    )
    old = target.sequence[lo : hi + 1]
    new_target = replace(
        target,
        sequence=new_seq,
        numbers=tuple(new_numbers),
        label=f"{target.label} swap {first}-{last} from {source}",
    )
    result = thread(assembly, {chain_id: new_target}, name=f"{assembly.name}+swap{first}-{last}",
                    minimize=minimize)  # fmt: skip
    edit = {
        "swap": {
            "chain": chain_id,
            "first": first,
            "last": last,
            "old": old,
            "new": sequence,
            "source": source,
            "numbering_shift_after": delta,
        }
    }
    return _with_edits(result, assembly, [edit])


def select_chains(assembly: Assembly, chain_ids: list[str]) -> Assembly:
    """A copy with only the polymer atoms of ``chain_ids`` (hetero groups dropped)."""
    for c in chain_ids:
        assembly.chain(c)
    return replace(
        assembly,
        chains=tuple(c for c in assembly.chains if c.chain_id in chain_ids),
        atoms=[a for a in assembly.atoms if a.record == "ATOM" and a.chain in chain_ids],
        seqres={k: v for k, v in assembly.seqres.items() if k in chain_ids},
        ssbonds=[p for p in assembly.ssbonds if p[0][0] in chain_ids and p[1][0] in chain_ids],
        name=f"{assembly.name}[{''.join(chain_ids)}]",
    )


_BACKBONE_HEAVY = ("N", "CA", "C", "O", "OXT")
_CHAIN_LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def substitute(
    topology, positions, changes: dict[int, str], shell_nm: float = 0.8, seed: int = 0
) -> tuple:
    """Substitute residues of a prepared (protonated) structure.

    ``changes``: {residue index of ``topology``: new residue name (e.g. "TRP")};
    ``positions`` (N, 3) nm. Each new side chain is built by PDBFixer on a local fragment
    (the residues with an atom within ``shell_nm`` of a changed residue, plus its
    sequence neighbours; contiguous stretches of ≥ 2 residues as separate chains,
    hydrogens stripped),
    protonated there by :meth:`openmm.app.Modeller.addHydrogens` (amber14, pH 7), and only
    the changed residues are taken over: every other atom keeps its topology entry and
    coordinates. The new side chain is PDBFixer's template placement, not rotamer-optimised:
    relax it (its heavy side-chain atoms, CB included, are returned as ``free``).

    Returns (topology, positions (M, 3) nm, parent (M,): the wild-type atom each atom
    stands for, the residue's CA for every atom of a changed residue, free: heavy side-chain
    atom indices (CB and beyond) of the changed residues)."""
    import io

    import numpy as np
    from openmm import app, unit
    from pdbfixer import PDBFixer

    from rankbind.platforms import single_threaded_cpu
    from rankbind.preparation import seeded_random

    x = np.asarray(positions, dtype=float)
    residues = list(topology.residues())
    for r, name in changes.items():
        if not 0 <= r < len(residues) or name not in ONE_TO_THREE.values():
            raise SelectionError(f"substitute: residue index {r} or name {name!r} is invalid")
    atom_res = np.array([a.residue.index for a in topology.atoms()])
    near: set[int] = set()
    for r in changes:
        own = x[atom_res == r]
        d = np.min(np.linalg.norm(x[:, None, :] - own[None], axis=-1), axis=1)
        near |= set(atom_res[d < shell_nm].tolist()) | {r - 1, r, r + 1}
    chain_of = {res.index: res.chain.index for res in residues}
    near = {k for k in near if 0 <= k < len(residues)}
    # single residues cannot be protonated as a chain of their own (both termini)
    fragment = sorted(
        k
        for k in near
        if k in changes or any(j in near and chain_of.get(j) == chain_of[k] for j in (k - 1, k + 1))
    )
    lines, serial, segment, previous = [], 1, 0, None
    label_of: dict[tuple[str, str], int] = {}
    for k in fragment:
        res = residues[k]
        if previous is not None and (k != previous + 1 or chain_of[k] != chain_of[previous]):
            lines.append("TER")
            segment += 1
        if segment >= len(_CHAIN_LABELS):
            raise SelectionError("substitute: the fragment has too many chain breaks")
        name = changes.get(k, res.name)
        label_of[(_CHAIN_LABELS[segment], str(k % 10000))] = k
        for a in res.atoms():
            if a.element is None or a.element.symbol == "H":
                continue
            if k in changes and a.name not in _BACKBONE_HEAVY and (a.name != "CB" or name == "GLY"):
                continue  # the new side chain is built from the template
            p = x[a.index] * 10
            lines.append(
                f"ATOM  {serial % 100000:5d} {a.name:<4s} {name:3s} {_CHAIN_LABELS[segment]}"
                f"{k % 10000:4d}    {p[0]:8.3f}{p[1]:8.3f}{p[2]:8.3f}  1.00  0.00"
                f"          {a.element.symbol:>2s}"
            )
            serial += 1
        previous = k
    with seeded_random(seed), single_threaded_cpu() as cpu:
        fixer = PDBFixer(pdbfile=io.StringIO("\n".join(lines + ["END"]) + "\n"), platform=cpu)
        fixer.missingResidues = {}
        fixer.findMissingAtoms()
        fixer.addMissingAtoms(seed=seed)
        modeller = app.Modeller(fixer.topology, fixer.positions)
        modeller.addHydrogens(app.ForceField("amber14-all.xml"), pH=7.0, platform=cpu)
    frag_x = np.array(modeller.positions.value_in_unit(unit.nanometer))
    built: dict[int, app.Residue] = {}
    for res in modeller.topology.residues():
        k = label_of.get((res.chain.id, res.id.strip()))
        if k in changes:
            built[k] = res
    if set(built) != set(changes):
        raise SelectionError(f"substitute: residues {sorted(set(changes) - set(built))} not built")

    top = app.Topology()
    out_x, parent, free = [], [], []
    old_to_new: dict[int, app.Atom] = {}
    frag_to_new: dict[int, app.Atom] = {}
    for chain in topology.chains():
        c = top.addChain(chain.id)
        for res in chain.residues():
            if res.index not in changes:
                r = top.addResidue(res.name, c, res.id, res.insertionCode)
                for a in res.atoms():
                    old_to_new[a.index] = top.addAtom(a.name, a.element, r)
                    parent.append(a.index)
                    out_x.append(x[a.index])
                continue
            r = top.addResidue(changes[res.index], c, res.id, res.insertionCode)
            old = {a.name: a.index for a in res.atoms()}
            for a in built[res.index].atoms():
                if a.name == "OXT" and "OXT" not in old:
                    continue  # a terminus of the fragment only
                atom = top.addAtom(a.name, a.element, r)
                frag_to_new[a.index] = atom
                if a.name in _BACKBONE_HEAVY and a.name in old:
                    old_to_new[old[a.name]] = atom  # peptide bonds to the neighbours
                parent.append(old["CA"])
                out_x.append(frag_x[a.index])
                if a.element.symbol != "H" and a.name not in _BACKBONE_HEAVY:
                    free.append(atom.index)
    for a, b in topology.bonds():  # kept atoms' bonds; those inside a new residue: below
        if a.index in old_to_new and b.index in old_to_new:
            if a.residue.index in changes and b.residue.index == a.residue.index:
                continue
            top.addBond(old_to_new[a.index], old_to_new[b.index])
    for a, b in modeller.topology.bonds():
        if a.index in frag_to_new and b.index in frag_to_new:
            top.addBond(frag_to_new[a.index], frag_to_new[b.index])
    return top, np.array(out_x), np.array(parent, dtype=np.int64), free
