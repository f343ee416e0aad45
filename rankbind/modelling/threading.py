"""Threading a target sequence onto a template structure.

Method (recorded in every result's ``report``):

1. Global alignment of each target sequence to the template chain's observed residues
   (:func:`rankbind.structures.sequences.align`).
2. Identical aligned residues keep all template atoms; substituted residues keep the
   backbone (N, CA, C, O) and CB (not for Gly); deleted template residues are removed
   together with one flanking target residue on each side, which are rebuilt.
3. PDBFixer builds missing side-chain atoms and internal missing residues (insertions,
   deletion junctions) from the target SEQRES; terminal overhangs are not modelled.
   Hetero groups (waters, ions, glycans) are not carried over.
4. Restrained minimisation in OpenMM (CPU platform): amber14-all + GBn2 implicit solvent,
   harmonic positional restraints on every heavy atom taken from the template
   (``restraint_k`` kJ/mol/nm²), rebuilt atoms free.

The result is a model: its provenance says so, with template, alignment and report.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace

import numpy as np

from rankbind.errors import StructureError
from rankbind.settings import SEED
from rankbind.structures import Assembly, ChainInfo
from rankbind.structures.pdbfile import Atom
from rankbind.structures.sequences import ONE_TO_THREE, align, chain_residues

BACKBONE = ("N", "CA", "C", "O")
BONDI_RADII_ANGSTROM = {"C": 1.70, "N": 1.55, "O": 1.52, "S": 1.80}
CLASH_FRACTION = 0.7  # a clash: heavy atoms closer than 0.7 x sum of Bondi radii
DISULFIDE_MAX_ANGSTROM = 2.5


@dataclass(frozen=True)
class Target:
    """What to put on a template chain: sequence, UniProt number of its first residue,
    and the identity of the modelled molecule."""

    sequence: str
    first: int
    species: str
    uniprot: str | None = None
    label: str = ""
    numbers: tuple[int, ...] | None = None  # explicit residue numbers (e.g. after a deletion)

    def number(self, index: int) -> int:
        """Residue number of sequence position ``index`` (0-based)."""
        return self.numbers[index] if self.numbers is not None else self.first + index


@dataclass
class ThreadingResult:
    """The model (heavy atoms, UniProt numbering) and the threading report."""

    assembly: Assembly
    report: dict = field(default_factory=dict)


def _residue_atoms(assembly: Assembly, chain_id: str) -> dict[tuple[int, str], list[Atom]]:
    out: dict[tuple[int, str], list[Atom]] = {}
    for atom in assembly.atoms:
        if atom.record == "ATOM" and atom.chain == chain_id and atom.element != "H":
            out.setdefault((atom.resseq, atom.icode), []).append(atom)
    return out


def _spans(numbers: list[int]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if spans and n == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], n)
        else:
            spans.append((n, n))
    return spans


def _thread_chain(template: Assembly, chain_id: str, target: Target) -> tuple[list[Atom], dict]:
    """Atoms kept from the template for one chain, renumbered to the target; report."""
    residues = chain_residues(template, chain_id)
    template_seq = "".join(r.code for r in residues)
    bad = sorted(set(target.sequence) - set(ONE_TO_THREE))
    if bad:
        raise StructureError(
            f"target sequence for chain {chain_id} contains non-standard letters {bad}"
        )
    aln = align(target.sequence, template_seq)
    atoms_by_residue = _residue_atoms(template, chain_id)
    mapping = aln.query_to_reference()
    aligned_targets = sorted(mapping)
    if not aligned_targets:
        raise StructureError(f"target for chain {chain_id} does not align to the template")
    lo, hi = aligned_targets[0], aligned_targets[-1]
    # Deletions: template residues between two consecutive aligned target residues.
    rebuild: set[int] = set()
    for a, b in zip(aligned_targets, aligned_targets[1:], strict=False):
        if b == a + 1 and mapping[b] != mapping[a] + 1:
            rebuild.update({a, b})
    kept: list[Atom] = []
    changed, sidechains = [], []
    if target.numbers is not None and len(target.numbers) != len(target.sequence):
        raise StructureError(
            f"target for chain {chain_id}: {len(target.numbers)} residue numbers for "
            f"{len(target.sequence)} residues"
        )
    for q in range(lo, hi + 1):
        number = target.number(q)
        resname = ONE_TO_THREE[target.sequence[q]]
        if q not in mapping or q in rebuild:
            continue
        res = residues[mapping[q]]
        source = atoms_by_residue[(res.number, res.icode)]
        if res.code == target.sequence[q]:
            names = None
        else:
            names = set(BACKBONE) | ({"CB"} if "G" not in (res.code, target.sequence[q]) else set())
            changed.append(f"{res.code}{res.number}>{target.sequence[q]}{number}")
            sidechains.append(number)
        for atom in source:
            if names is None or atom.name in names:
                kept.append(
                    Atom(
                        "ATOM",
                        0,
                        atom.name,
                        resname,
                        chain_id,
                        number,
                        "",
                        atom.xyz,
                        atom.occupancy,
                        atom.bfactor,
                        atom.element,
                    )  # fmt: skip
                )
    missing = [target.number(q) for q in range(lo, hi + 1) if q not in mapping or q in rebuild]
    report = {
        "chain": chain_id,
        "target": target.label,
        "target_first": target.first,
        "template_residues": [residues[0].number, residues[-1].number],
        "identity": round(aln.identity, 4),
        "n_aligned": aln.n_aligned,
        "aligned_target": aln.aligned_query,
        "aligned_template": aln.aligned_reference,
        "changed_residues": changed,
        "rebuilt_segments": [list(s) for s in _spans(missing)],
        "terminal_residues_not_modelled": [
            target.number(q) for q in range(len(target.sequence)) if q < lo or q > hi
        ],
        "modelled_range": [target.number(lo), target.number(hi)],
        "modelled_numbers": [target.number(q) for q in range(lo, hi + 1)],
        "modelled_indices": [lo, hi],
    }
    return kept, report


def _heavy_positions_angstrom(positions) -> np.ndarray:
    from openmm import unit

    return np.asarray(positions.value_in_unit(unit.angstrom), dtype=float)


def clash_report(topology, positions) -> dict:
    """Clashes among heavy atoms of an OpenMM topology (positions with units).

    A clash is a pair more than three bonds apart closer than ``CLASH_FRACTION`` x the
    sum of Bondi radii. Returns count, clashes per 1000 heavy atoms, worst overlap (Å),
    the first 50 clashes, every clashing residue ("chain:number") and disulfide SG-SG
    distances (Å)."""
    from rankbind.structures.geometry import self_pairs_within

    xyz = _heavy_positions_angstrom(positions)
    atoms = list(topology.atoms())
    heavy = [a.index for a in atoms if a.element is not None and a.element.symbol != "H"]
    neighbours: dict[int, set[int]] = {i: set() for i in range(len(atoms))}
    for a, b in topology.bonds():
        neighbours[a.index].add(b.index)
        neighbours[b.index].add(a.index)
    excluded: dict[int, set[int]] = {}
    for i in heavy:
        shell = {i}
        for _ in range(3):
            shell = shell | {k for j in shell for k in neighbours[j]}
        excluded[i] = shell
    # candidate pairs (sorted, so the listed clashes come in atom order)
    pairs = self_pairs_within(xyz[heavy], 2 * max(BONDI_RADII_ANGSTROM.values()) * CLASH_FRACTION)
    clashes, residues, worst = [], set(), 0.0
    for p, q in pairs:
        i, j = heavy[p], heavy[q]
        if j in excluded[i]:
            continue
        ri = BONDI_RADII_ANGSTROM.get(atoms[i].element.symbol, 1.7)
        rj = BONDI_RADII_ANGSTROM.get(atoms[j].element.symbol, 1.7)
        d = float(np.linalg.norm(xyz[i] - xyz[j]))
        if d < CLASH_FRACTION * (ri + rj):
            clashes.append(
                f"{atoms[i].residue.chain.id}:{atoms[i].residue.name}{atoms[i].residue.id}"
                f":{atoms[i].name}-{atoms[j].residue.chain.id}:{atoms[j].residue.name}"
                f"{atoms[j].residue.id}:{atoms[j].name} {d:.2f}"
            )
            worst = max(worst, CLASH_FRACTION * (ri + rj) - d)
            residues |= {
                f"{r.chain.id}:{r.id}{r.insertionCode.strip()}"
                for r in (atoms[i].residue, atoms[j].residue)
            }
    disulfides = []
    for a, b in topology.bonds():
        if a.name == "SG" and b.name == "SG":
            d = float(np.linalg.norm(xyz[a.index] - xyz[b.index]))
            disulfides.append(
                [
                    f"{a.residue.chain.id}:{a.residue.id}",
                    f"{b.residue.chain.id}:{b.residue.id}",
                    round(d, 3),
                ]  # fmt: skip
            )
    return {
        "n_clashes": len(clashes),
        "clashes_per_1000_heavy_atoms": round(1000 * len(clashes) / max(len(heavy), 1), 3),
        "worst_overlap_angstrom": round(worst, 3),
        "clashes": clashes[:50],
        "clashing_residues": sorted(residues),
        "disulfides": disulfides,
    }


def _fix(pdb_text: str, seed: int):
    """PDBFixer: internal missing residues, missing heavy atoms, hydrogens (pH 7).
    ``seed``: the random seed of PDBFixer's clash-relief dynamics for rebuilt atoms
    (without one, a rebuild that needs those dynamics differs from run to run)."""
    from pdbfixer import PDBFixer

    from rankbind.platforms import single_threaded_cpu
    from rankbind.preparation import seeded_random

    # PoCL's minimiser segfaults; PDBFixer's internal minimisations and clash-relief
    # dynamics run on the CPU platform, single-threaded, and its random placements draw
    # from seeded generators, so that the seed reproduces them
    with seeded_random(seed), single_threaded_cpu() as platform:
        fixer = PDBFixer(pdbfile=io.StringIO(pdb_text), platform=platform)
        fixer.removeHeterogens(keepWater=False)
        fixer.findMissingResidues()
        chains = list(fixer.topology.chains())
        fixer.missingResidues = {
            key: value
            for key, value in fixer.missingResidues.items()
            if 0 < key[1] < len(list(chains[key[0]].residues()))
        }
        fixer.findNonstandardResidues()
        fixer.findMissingAtoms()
        rebuilt_atoms = {
            (res.chain.id, res.id): [a.name for a in names]
            for res, names in fixer.missingAtoms.items()
        }
        fixer.addMissingAtoms(seed=seed)
        fixer.addMissingHydrogens(7.0)
    return fixer, rebuilt_atoms


def minimise(
    topology,
    positions,
    restrained: set[tuple[str, str, str]],
    restraint_k: float = 1000.0,
    tolerance: float = 10.0,
    max_iterations: int = 300,
    threads: int = 1,
    solvent: str = "reaction-field",
) -> tuple[object, dict]:
    """Restrained minimisation (CPU platform). ``restrained`` holds (chain, resid, atom
    name) keys of atoms tied to their start positions with k = ``restraint_k``
    kJ/mol/nm². ``solvent``: "reaction-field" (default: amber14-all, 1.0 nm cutoff with
    reaction field, a cheap clash-relief step) or "gbn2" (adds GBn2 implicit solvent,
    several times slower). Returns new positions and a record of settings and energies
    (kJ/mol)."""
    import openmm
    from openmm import app, unit

    files = ["amber14-all.xml"] + (["implicit/gbn2.xml"] if solvent == "gbn2" else [])
    forcefield = app.ForceField(*files)
    system = forcefield.createSystem(
        topology,
        nonbondedMethod=app.CutoffNonPeriodic,
        nonbondedCutoff=1.0 * unit.nanometer,
        constraints=None,
    )
    force = openmm.CustomExternalForce("0.5*k*((x-x0)^2+(y-y0)^2+(z-z0)^2)")
    force.addGlobalParameter("k", restraint_k)
    for name in ("x0", "y0", "z0"):
        force.addPerParticleParameter(name)
    xyz = positions.value_in_unit(unit.nanometer)
    n_restrained = 0
    for atom in topology.atoms():
        key = (atom.residue.chain.id, atom.residue.id + atom.residue.insertionCode.strip())
        if (*key, atom.name) in restrained:
            force.addParticle(atom.index, list(xyz[atom.index]))
            n_restrained += 1
    system.addForce(force)
    integrator = openmm.VerletIntegrator(0.001)
    from rankbind.platforms import cpu_platform

    platform = cpu_platform()
    properties = {"Threads": str(threads)} if platform.getName() == "CPU" else {}
    context = openmm.Context(system, integrator, platform, properties)
    context.setPositions(positions)
    e0 = (
        context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    )
    openmm.LocalEnergyMinimizer.minimize(context, tolerance, max_iterations)
    state = context.getState(getEnergy=True, getPositions=True)
    e1 = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    return state.getPositions(), {
        "forcefield": files,
        "solvent": solvent,
        "nonbonded": "CutoffNonPeriodic 1.0 nm (reaction field, eps_rf 78.5)",
        "constraints": "none",
        "platform": f"CPU ({threads} thread(s))",
        "restraint": "harmonic on template heavy atoms",
        "restraint_k_kj_per_mol_nm2": restraint_k,
        "n_restrained_atoms": n_restrained,
        "tolerance_kj_per_mol_nm": tolerance,
        "max_iterations": max_iterations,
        "energy_before_kj_per_mol": round(e0, 2),
        "energy_after_kj_per_mol": round(e1, 2),
    }


def _renumber(topology, numbering: dict[str, list[tuple[int, str]]]) -> None:
    """Give the residues of each chain of ``topology`` the model's numbers, in order."""
    for chain in topology.chains():
        residues = list(chain.residues())
        wanted = numbering.get(chain.id)
        if wanted is None or len(wanted) != len(residues):
            raise StructureError(
                f"chain {chain.id}: PDBFixer returned {len(residues)} residues, expected "
                f"{len(wanted or [])}"
            )
        for residue, (number, icode) in zip(residues, wanted, strict=True):
            residue.id = str(number)
            residue.insertionCode = icode or " "


def _atoms_from_openmm(topology, positions, heavy_only: bool = True) -> list[Atom]:
    xyz = _heavy_positions_angstrom(positions)
    out = []
    for atom in topology.atoms():
        element = atom.element.symbol if atom.element is not None else ""
        if heavy_only and element == "H":
            continue
        res = atom.residue
        out.append(
            Atom(
                "ATOM",
                0,
                atom.name,
                res.name,
                res.chain.id,
                int(res.id),
                res.insertionCode.strip(),
                tuple(float(v) for v in xyz[atom.index]),
                1.0,
                0.0,
                element,
            )  # fmt: skip
        )
    return out


def thread(
    template: Assembly,
    targets: dict[str, Target],
    name: str | None = None,
    minimize: bool = True,
    restraint_k: float = 1000.0,
    max_iterations: int = 300,
    seed: int = SEED,
) -> ThreadingResult:
    """Put ``targets`` (template chain id -> :class:`Target`) onto ``template``.

    Chains not in ``targets`` are copied unchanged (heavy atoms). With ``minimize=False``
    the model is the PDBFixer output (template coordinates exactly where kept). ``seed``:
    PDBFixer's rebuild (:func:`_fix`); the same seed gives the same model."""
    for chain_id in targets:
        template.chain(chain_id)
    chain_atoms: dict[str, list[Atom]] = {}
    reports = {}
    seqres: dict[str, list[str]] = {}
    numbering: dict[str, list[tuple[int, str]]] = {}
    for info in template.chains:
        if info.chain_id in targets:
            target = targets[info.chain_id]
            atoms, report = _thread_chain(template, info.chain_id, target)
            reports[info.chain_id] = report
            lo, hi = report.pop("modelled_indices")
            seqres[info.chain_id] = [ONE_TO_THREE[c] for c in target.sequence[lo : hi + 1]]
            numbering[info.chain_id] = [(n, "") for n in report.pop("modelled_numbers")]
        else:
            atoms = [
                a
                for a in template.atoms
                if a.record == "ATOM" and a.chain == info.chain_id and a.element != "H"
            ]
            residues = chain_residues(template, info.chain_id)
            seqres[info.chain_id] = [r.resname for r in residues]
            numbering[info.chain_id] = [(r.number, r.icode) for r in residues]
        chain_atoms[info.chain_id] = atoms
    # PDBFixer finds missing residues from gaps in residue numbers: stage every chain
    # numbered 1..n over its modelled range, then restore the model's numbers.
    staged_atoms = []
    for chain_id, atoms in chain_atoms.items():
        index = {key: k + 1 for k, key in enumerate(numbering[chain_id])}
        staged_atoms += [replace(a, resseq=index[(a.resseq, a.icode)], icode="") for a in atoms]
    keep = {(a.chain, str(a.resseq), a.name) for a in staged_atoms}
    staged = Assembly(
        name=name or f"{template.name}+threaded",
        kind=template.kind,
        chains=template.chains,
        atoms=staged_atoms,
        seqres=seqres,
    )
    fixer, rebuilt_atoms = _fix(staged.to_pdb_text(), seed)
    topology, positions = fixer.topology, fixer.positions
    minimisation = None
    if minimize:
        positions, minimisation = minimise(
            topology, positions, keep, restraint_k, max_iterations=max_iterations
        )
    _renumber(topology, numbering)
    rebuilt_atoms = {
        f"{chain}:{numbering[chain][int(res) - 1][0]}": names
        for (chain, res), names in rebuilt_atoms.items()
    }
    before = clash_report(fixer.topology, fixer.positions)
    after = clash_report(topology, positions)
    atoms = _atoms_from_openmm(topology, positions)
    moved = _restrained_rmsd([a for atoms in chain_atoms.values() for a in atoms], atoms)
    chains = tuple(
        ChainInfo(
            chain_id=c.chain_id,
            molecule=c.molecule,
            species=targets[c.chain_id].species if c.chain_id in targets else c.species,
            uniprot=targets[c.chain_id].uniprot if c.chain_id in targets else c.uniprot,
            source_chain=c.source_chain,
            operator=c.operator,
            numbering=c.numbering,
        )
        for c in template.chains
    )
    report = {
        "method": "threading (alignment + PDBFixer rebuild + restrained minimisation)",
        "model": True,
        "template": template.name,
        "template_provenance": template.provenance,
        "chains": reports,
        "side_chains_rebuilt": rebuilt_atoms,
        "pdbfixer_seed": seed,
        "hetero_groups": "not carried over (waters, ions, glycans removed)",
        "clashes_before_minimisation": before,
        "clashes_after": after,
        "minimisation": minimisation,
        "kept_heavy_atom_rmsd_angstrom": round(moved, 4),
    }
    model = Assembly(
        name=staged.name,
        kind=template.kind,
        chains=chains,
        atoms=atoms,
        seqres=seqres,
        ssbonds=[],
        provenance={"model": True, "method": "threading", "threading": report},
    )
    model.ssbonds = [
        ((a.split(":")[0], int(a.split(":")[1])), (b.split(":")[0], int(b.split(":")[1])))
        for a, b, _ in after["disulfides"]
    ]
    return ThreadingResult(model, report)


def _restrained_rmsd(before: list[Atom], after: list[Atom]) -> float:
    """RMSD (Å) of atoms present in ``before`` between the two lists (matched by key)."""
    ref = {(a.chain, a.resseq, a.icode, a.name): a.xyz for a in before}
    d = [
        np.subtract(a.xyz, ref[(a.chain, a.resseq, a.icode, a.name)])
        for a in after
        if (a.chain, a.resseq, a.icode, a.name) in ref
    ]
    return float(np.sqrt(np.mean(np.sum(np.square(d), axis=1)))) if d else 0.0


def relax(
    assembly: Assembly,
    max_iterations: int = 500,
    restraint_k: float = 1000.0,
    restrained_names: tuple[str, ...] = ("CA",),
    seed: int = SEED,
) -> tuple[Assembly, dict]:
    """Clash relief for a rigidly built model (e.g. a docked complex): PDBFixer adds
    hydrogens and missing atoms, then :func:`minimise` with the ``restrained_names`` atoms
    held at their start positions (k = ``restraint_k`` kJ/mol/nm²). Clashes that survive
    (interlocked side chains, which no minimisation separates) get those residues' side
    chains beyond CB rebuilt by PDBFixer and a second minimisation. Returns the heavy-atom
    assembly and a record: clash reports, rebuilt side chains, RMSD moved (Å)."""
    start = [a for a in assembly.atoms if a.record == "ATOM"]
    keep = {(a.chain, str(a.resseq) + a.icode, a.name) for a in start if a.name in restrained_names}

    def one_pass(model: Assembly):
        fixer, _ = _fix(model.to_pdb_text(), seed)
        before = clash_report(fixer.topology, fixer.positions)
        positions, minimisation = minimise(
            fixer.topology, fixer.positions, keep, restraint_k, max_iterations=max_iterations
        )
        after = clash_report(fixer.topology, positions)
        return _atoms_from_openmm(fixer.topology, positions), before, after, minimisation

    atoms, before, after, minimisation = one_pass(assembly)
    rebuilt: list[str] = []
    if after["n_clashes"]:
        rebuilt = after["clashing_residues"]
        backbone = {"N", "CA", "C", "O", "CB"}
        stripped = [
            a
            for a in atoms
            if f"{a.chain}:{a.resseq}{a.icode}" not in rebuilt or a.name in backbone
        ]
        atoms, _, after, minimisation = one_pass(replace(assembly, atoms=stripped))
    record = {
        "method": "PDBFixer (H, missing atoms) + C-alpha-restrained minimisation "
        "(rankbind.modelling.threading.minimise); side chains still clashing after it are "
        "rebuilt by PDBFixer and minimised again",
        "restrained_atoms": list(restrained_names),
        "side_chains_rebuilt": rebuilt,
        "pdbfixer_seed": seed,
        "minimisation": minimisation,
        "clashes_before": {k: v for k, v in before.items() if k != "clashes"},
        "clashes_after": after,
        "heavy_atom_rmsd_moved_angstrom": round(_restrained_rmsd(start, atoms), 3),
        "ca_rmsd_moved_angstrom": round(
            _restrained_rmsd([a for a in start if a.name == "CA"], atoms), 3
        ),
    }
    return replace(assembly, atoms=atoms), record
