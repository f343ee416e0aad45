"""Structure preparation with PDBFixer and OpenMM: clean, complete, protonate,
solvate, parameterise. Every choice is recorded in the metadata.

Output directory of :func:`write_prepared`:
``prepared.pdb`` (and ``prepared.cif``), ``system.xml`` (serialised OpenMM System),
``metadata.json`` (written last: its presence marks a complete preparation).
"""

from __future__ import annotations

import contextlib
import io
import json
import platform as pyplatform
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import openmm
from openmm import app, unit

from rankbind import __version__
from rankbind.debye import debye_kappa
from rankbind.errors import PreparationError
from rankbind.fileio import atomic_open, write_json, write_text
from rankbind.platforms import cpu_platform, single_threaded_cpu
from rankbind.settings import FORCEFIELDS, PreparationOptions
from rankbind.structures.assembly import Assembly, ChainInfo, chain_records
from rankbind.structures.pdbfile import GLYCANS, IONS, WATERS


@dataclass
class PreparedSystem:
    """A parameterised system. ``positions`` in nm (OpenMM Quantity)."""

    topology: app.Topology
    positions: unit.Quantity
    system: openmm.System
    chains: tuple[ChainInfo, ...]
    metadata: dict = field(default_factory=dict)

    def disulfide_count(self) -> int:
        return count_disulfides(self.topology)


def count_disulfides(topology: app.Topology) -> int:
    """Number of SG–SG bonds between CYS residues in ``topology``."""
    return sum(
        1
        for a, b in topology.bonds()
        if a.name == "SG" and b.name == "SG" and a.residue is not b.residue
    )


def _hetero_filter(assembly: Assembly, options: PreparationOptions) -> tuple[Assembly, dict]:
    removed: dict[str, int] = {}
    kept = []
    for atom in assembly.atoms:
        if atom.record == "HETATM":
            name = atom.resname
            drop = (
                (name in WATERS and options.remove_water)
                or (name in IONS and options.remove_ions)
                or (name in GLYCANS and options.remove_glycans)
                or (name not in WATERS | IONS | GLYCANS)
            )
            if drop:
                removed[name] = removed.get(name, 0) + 1
                continue
        kept.append(atom)
    removed_residues = {k: v for k, v in removed.items()}
    from rankbind.structures.assembly import with_atoms

    return with_atoms(assembly, kept), removed_residues


def _version_info() -> dict:
    from importlib.metadata import version

    return {
        "rankbind": __version__,
        "openmm": openmm.__version__,
        "pdbfixer": version("pdbfixer"),
        "numpy": np.__version__,
        "python": pyplatform.python_version(),
    }


@contextlib.contextmanager
def seeded_random(seed: int) -> Iterator[None]:
    """Seed Python's ``random`` and numpy's global generator with ``seed`` for the block,
    then restore both states, so callers outside the block see no change. OpenMM's
    Modeller (hydrogen and ion placement) and PDBFixer draw from these unseeded globals."""
    python_state, numpy_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (the legacy global generator is what is used)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)  # noqa: NPY002


def prepare(assembly: Assembly, options: PreparationOptions | None = None) -> PreparedSystem:
    """Clean, complete, protonate, (optionally) solvate and parameterise ``assembly``.

    Reproducible: the same assembly and options (``options.seed``) give the same
    coordinates, in any process: random draws are seeded inside :func:`seeded_random`,
    PDBFixer's minimiser integrator with the same seed, and the helper minimisations run
    on one CPU thread (:func:`rankbind.platforms.single_threaded_cpu`). The seed is
    recorded in the metadata under ``random_seed``."""
    options = options or PreparationOptions()
    with seeded_random(options.seed), single_threaded_cpu():
        prepared = _prepare(assembly, options)
    prepared.metadata["random_seed"] = {
        "seed": options.seed,
        "seeds": "python random, numpy global RandomState, PDBFixer minimiser integrator",
        "helper_minimisation": "CPU platform, 1 thread (bit-reproducible force sums)",
    }
    return prepared


def _prepare(assembly: Assembly, options: PreparationOptions) -> PreparedSystem:
    from pdbfixer import PDBFixer

    filtered, removed = _hetero_filter(assembly, options)
    # PDBFixer and Modeller minimise internally (new atoms, hydrogens). Pin them to the
    # CPU platform: left to choose, OpenMM picks PoCL OpenCL where installed, and PoCL's
    # minimiser segfaults (observed with PoCL 3.1), killing the process.
    cpu = cpu_platform()
    fixer = PDBFixer(pdbfile=io.StringIO(filtered.to_pdb_text()), platform=cpu)

    fixer.findMissingResidues()
    chains = list(fixer.topology.chains())
    terminal, internal = [], []
    for (chain_index, position), residues in list(fixer.missingResidues.items()):
        chain = chains[chain_index]
        n_res = len(list(chain.residues()))
        record = {"chain": chain.id, "after_index": position, "residues": list(residues)}
        if position == 0 or position == n_res or not options.rebuild_internal_loops:
            terminal.append(record)
            del fixer.missingResidues[(chain_index, position)]
        else:
            internal.append(record)

    fixer.findNonstandardResidues()
    nonstandard = [(r.chain.id, r.id, r.name, std) for r, std in fixer.nonstandardResidues]
    fixer.replaceNonstandardResidues()
    fixer.findMissingAtoms()
    missing_atoms = {
        f"{r.chain.id}:{r.name}{r.id}": [a.name for a in atoms]
        for r, atoms in fixer.missingAtoms.items()
    }
    missing_terminals = {
        f"{r.chain.id}:{r.name}{r.id}": t for r, t in fixer.missingTerminals.items()
    }
    try:
        fixer.addMissingAtoms(seed=options.seed)
    except TypeError:  # older PDBFixer without the seed argument
        fixer.addMissingAtoms()

    forcefield = app.ForceField(*options.forcefield_files())
    modeller = app.Modeller(fixer.topology, fixer.positions)
    lone = isolated_residues(modeller.topology)
    isolated = [f"{r.chain.id}:{r.name}{r.id}{(r.insertionCode or '').strip()}" for r in lone]
    if isolated and options.isolated_residues == "error":
        raise PreparationError(
            f"{assembly.name}: residue(s) {', '.join(isolated)} stand alone (a gap or chain "
            f"end on both sides, no peptide bond): {options.forcefield} has no template for "
            "a free amino acid. Rebuild the gaps (rebuild_internal_loops), remove the "
            "residues, or set isolated_residues='remove'"
        )
    if lone:
        modeller.delete(lone)
    # hydrogens are placed with the protein force field alone: with the GB file loaded,
    # Modeller's hydrogen minimisation would evaluate a CustomGBForce (minutes on a CPU)
    protonation_ff = app.ForceField(
        *[f for f in options.forcefield_files() if not f.startswith("implicit/")]
    )
    protonation: dict = {"method": "template (Modeller residue templates at pH)", "ph": options.ph}
    variants = None
    if options.protonation == "propka":
        from rankbind.protonation import apply_plan, plan_protonation

        # deposited hydrogens (e.g. AB-Bind's models) are replaced: flips and pKa states
        # are planned on heavy atoms and the hydrogens rebuilt to match
        hydrogens = [a for a in modeller.topology.atoms() if a.element is app.element.hydrogen]
        if hydrogens:
            modeller.delete(hydrogens)
            protonation_removed = len(hydrogens)
        else:
            protonation_removed = 0
        plan = plan_protonation(modeller.topology, modeller.positions, options.ph)
        flipped_positions, variants = apply_plan(modeller.topology, modeller.positions, plan)
        modeller = app.Modeller(modeller.topology, flipped_positions)
        protonation = plan.as_dict() | {"input_hydrogens_removed": protonation_removed}
    try:
        modeller.addHydrogens(protonation_ff, pH=options.ph, variants=variants, platform=cpu)
    except ValueError as exc:
        raise PreparationError(f"{assembly.name}: cannot add hydrogens: {exc}") from None
    from rankbind.protonation import applied_states, audit, relax_implicit

    if options.protonation == "propka":
        states = applied_states(modeller.topology)
        wrong = [
            c["label"]
            for c in protonation["residues"]
            if (c["chain"], c["residue"], c["insertion"]) in states
            and states[(c["chain"], c["residue"], c["insertion"])] != c["state"]
        ]
        if wrong:
            raise PreparationError(f"{assembly.name}: protonation plan not applied to {wrong}")
    relaxation = None
    if options.relax == "implicit":
        relaxed, relaxation = relax_implicit(
            modeller.topology,
            modeller.positions,
            forcefield=FORCEFIELDS[options.forcefield][0],
            restraint_k=options.relax_restraint_k,
            max_iterations=options.relax_max_iterations,
            platform=cpu,
        )
        modeller = app.Modeller(modeller.topology, relaxed)
    structure_audit = audit(modeller.topology, modeller.positions)

    solvation: dict = {"solvent": options.solvent}
    if options.solvent == "explicit":
        modeller.addSolvent(
            forcefield,
            model=options.resolved_water_model()
            if options.resolved_water_model() != "opc"
            else "tip4pew",
            padding=options.padding_nm * unit.nanometer,
            boxShape=options.box_shape,
            ionicStrength=options.ionic_strength_molar * unit.molar,
            positiveIon="Na+",
            negativeIon="Cl-",
            neutralize=True,
        )
        waters = sum(1 for r in modeller.topology.residues() if r.name == "HOH")
        ions = {
            name: sum(1 for r in modeller.topology.residues() if r.name == name)
            for name in ("NA", "CL")
        }
        box = modeller.topology.getPeriodicBoxVectors().value_in_unit(unit.nanometer)
        solvation |= {
            "water_model": options.resolved_water_model(),
            "padding_nm": options.padding_nm,
            "box_shape": options.box_shape,
            "box_vectors_nm": [[float(v) for v in vec] for vec in box],
            "ionic_strength_molar": options.ionic_strength_molar,
            "n_waters": waters,
            "ions": ions,
        }
    elif options.solvent == "implicit":
        solvation |= {
            "gb_model": options.gb_model,
            "salt_molar": options.ionic_strength_molar,
            "debye_kappa_per_nm": debye_kappa(options.ionic_strength_molar, options.temperature_K),
            "kappa_convention": "openmm-amber",
            "kappa_temperature_K": options.temperature_K,
            "solute_dielectric": 1.0,
            "solvent_dielectric": 78.5,
            "sasa": "ACE (OpenMM default for GBn2/OBC2 xml)",
            "nonbonded": "NoCutoff"
            if options.implicit_cutoff_nm is None
            else f"CutoffNonPeriodic {options.implicit_cutoff_nm} nm",
        }

    system = _create_system(forcefield, modeller.topology, options)
    metadata = {
        "assembly": assembly.name,
        "assembly_kind": assembly.kind,
        "provenance": assembly.provenance,
        "chains": [asdict(c) for c in assembly.chains],
        "options": options.model_dump() | {"water_model": options.resolved_water_model()},
        "forcefield_files": options.forcefield_files(),
        "removed_heterogens": removed,
        "terminal_missing_residues_not_built": terminal,
        "internal_missing_residues_built": internal,
        "nonstandard_residues_replaced": nonstandard,
        "missing_atoms_added": missing_atoms,
        "terminal_atoms_added": missing_terminals,
        "isolated_residues_removed": isolated,
        "ssbond_records": len(assembly.ssbonds),
        "disulfide_bonds": count_disulfides(modeller.topology),
        "n_atoms": modeller.topology.getNumAtoms(),
        "n_residues": modeller.topology.getNumResidues(),
        "solvation": solvation,
        "protonation": protonation,
        "relaxation": relaxation,
        "audit": structure_audit,
        "versions": _version_info(),
    }
    if metadata["disulfide_bonds"] < metadata["ssbond_records"]:
        raise PreparationError(
            f"{assembly.name}: {metadata['ssbond_records']} SSBOND records but only "
            f"{metadata['disulfide_bonds']} disulfide bonds in the prepared topology"
        )
    return PreparedSystem(modeller.topology, modeller.positions, system, assembly.chains, metadata)


def isolated_residues(topology: app.Topology) -> list:
    """Amino-acid residues (with N, CA and C) whose N and C atoms are bonded to no other
    residue: a lone residue with a gap or a chain end on both sides (a free amino acid)."""
    out = []
    for residue in topology.residues():
        backbone = {a.name: a for a in residue.atoms() if a.name in ("N", "CA", "C")}
        if len(backbone) < 3:
            continue
        ends = (backbone["N"], backbone["C"])
        if not any(a in ends or b in ends for a, b in residue.external_bonds()):
            out.append(residue)
    return out


def _create_system(forcefield: app.ForceField, topology: app.Topology, options: PreparationOptions):
    kwargs: dict = {
        "constraints": None if options.constraints == "None" else getattr(app, options.constraints),
        "rigidWater": True,
    }
    if options.hydrogen_mass_amu is not None:
        kwargs["hydrogenMass"] = options.hydrogen_mass_amu * unit.amu
    if options.solvent == "explicit":
        kwargs |= {
            "nonbondedMethod": app.PME,
            "nonbondedCutoff": options.nonbonded_cutoff_nm * unit.nanometer,
        }
    else:
        kwargs["nonbondedMethod"] = app.NoCutoff
        if options.solvent == "implicit" and options.implicit_cutoff_nm is not None:
            kwargs["nonbondedMethod"] = app.CutoffNonPeriodic
            kwargs["nonbondedCutoff"] = options.implicit_cutoff_nm * unit.nanometer
        if options.solvent == "implicit":
            kwargs["implicitSolventKappa"] = (
                debye_kappa(options.ionic_strength_molar, options.temperature_K) / unit.nanometer
            )
    try:
        return forcefield.createSystem(topology, **kwargs)
    except ValueError as exc:
        message = str(exc)
        hint = ""
        if "No template found" in message:
            hint = (
                " (glycans and unusual ligands have no template in the protein force field; "
                "keep remove_glycans/remove_ions on, or remove the residue)"
            )
        raise PreparationError(
            f"cannot parameterise with {options.forcefield}: {message}{hint}"
        ) from None


def write_prepared(prepared: PreparedSystem, out_dir: str | Path) -> Path:
    """Write prepared.pdb (with REMARK 250 chain records), prepared.cif, system.xml, then
    metadata.json (the marker)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / "prepared.pdb") as handle:
        handle.write("\n".join(chain_records(prepared.chains)) + "\n")
        app.PDBFile.writeFile(prepared.topology, prepared.positions, handle, keepIds=True)
    with atomic_open(out / "prepared.cif") as handle:
        app.PDBxFile.writeFile(prepared.topology, prepared.positions, handle, keepIds=True)
    write_text(out / "system.xml", openmm.XmlSerializer.serialize(prepared.system))
    write_json(out / "metadata.json", prepared.metadata)
    return out


def load_prepared(out_dir: str | Path) -> PreparedSystem:
    """Read a directory written by :func:`write_prepared`."""
    out = Path(out_dir)
    if not (out / "metadata.json").is_file():
        raise PreparationError(f"{out}: no metadata.json; not a complete preparation")
    metadata = json.loads((out / "metadata.json").read_text())
    pdb = app.PDBFile(str(out / "prepared.pdb"))
    system = openmm.XmlSerializer.deserialize((out / "system.xml").read_text())
    chains = tuple(ChainInfo(**c) for c in metadata["chains"])
    return PreparedSystem(pdb.topology, pdb.positions, system, chains, metadata)
