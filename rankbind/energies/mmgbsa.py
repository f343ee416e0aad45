"""Single-trajectory MM/GBSA: per-frame ΔG_bind, bootstrap uncertainty, decomposition.

For each frame, E(complex) - E(receptor) - E(ligand) with E = MM (bonds, angles, torsions,
CMAP, Coulomb, LJ; NoCutoff) + GB polar (GBn2 or OBC2, OpenMM's CustomGBForce) + nonpolar.
Receptor and ligand are disjoint sets of whole molecules taken from the same frame (atoms in
neither, e.g. waters or ions, are stripped), so bonded terms cancel exactly.

Nonpolar term (``settings.nonpolar``): ``"sasa"`` (default) = γ·SASA, SASA per atom from
mdtraj's Shrake-Rupley (960 points, probe 1.4 Å, mdtraj element radii), γ =
``surface_tension`` kcal/mol/Å² (0.0072 default, the LCPO-style Amber value); the System is
then built *without* OpenMM's ACE term so nothing is counted twice. ``"ace"`` = the ACE
term of OpenMM's GB force (28.3919551 kJ/mol/nm² · (r+0.14)²(r/B)⁶). ``"none"``: polar only.

Engines: ``"jax"`` (:class:`rankbind.energies.jax_energy.EnergyModel`, jit-compiled and
batched; needed for decomposition) and ``"openmm"`` (reference: one Context per
component, setPositions per frame, energies by force group).

Decomposition (JAX engine): each pair energy goes half to each atom, self terms to their
atom, γ·SASA_i to atom i; per-atom ΔG contributions are E_i(complex) - E_i(alone) and
sum per residue to exactly the frame's ΔG. The receptor×ligand residue pair matrix holds the
direct Coulomb + LJ + GB pair energies across the interface in the complex; it does not
contain desolvation (Born-radius changes, self and nonpolar terms), which sits on the
per-residue values only.

Solute dielectric ε_in (``settings.solute_dielectric``) applies to ALL solute
electrostatics, consistently: the Coulomb term is ``138.935 q_i q_j / (ε_in r)`` (the
System's NonbondedForce charges are scaled by 1/√ε_in, exception charge products by
1/ε_in) and the GB term uses ``(1/ε_in − e^{−κf}/ε_out)`` (OpenMM's own soluteDielectric).
OpenMM's ``createSystem(soluteDielectric=...)`` changes only the GB term; before this was
fixed rankbind did the same, which made ε_in = 2 scores (Coulomb at ε=1, GB at ε=2)
meaningless (4GIQ: −398.7 kcal/mol).

The score is enthalpy-like (no solute entropy) unless ``settings.entropy ==
"interaction"`` (see :mod:`rankbind.energies.entropy`); results say which.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import openmm
from openmm import app, unit

from rankbind.energies.bootstrap import bootstrap_mean, mean_sem  # noqa: F401 (re-export)
from rankbind.energies.entropy import KJ_PER_KCAL, InteractionEntropy, interaction_entropy
from rankbind.energies.parameters import (
    copy_custom_gb,
    extract_parameters,
    is_ace_term,
    subsystem,
)
from rankbind.errors import RankbindError, SelectionError
from rankbind.progress import progress_for
from rankbind.settings import GB_MODELS, MMGBSASettings

COMPONENTS = ("bond", "angle", "torsion", "cmap", "coulomb", "lj", "gb", "nonpolar")
KJ_PER_NM2_PER_KCAL_PER_A2 = KJ_PER_KCAL * 100.0


@dataclass(frozen=True)
class Estimate:
    """Mean and bootstrap standard error, kJ/mol."""

    mean: float
    sem: float

    def as_dict(self) -> dict:
        return {
            "kJ_per_mol": self.mean,
            "sem_kJ_per_mol": self.sem,
            "kcal_per_mol": self.mean / KJ_PER_KCAL,
            "sem_kcal_per_mol": self.sem / KJ_PER_KCAL,
        }


@dataclass
class Decomposition:
    """Per-residue ΔG (mean/sem over frames, kJ/mol) and the receptor×ligand pair matrix.

    residues: (chain id, residue number, residue name, "receptor"|"ligand") per entry of
    ``per_residue`` (R,) / ``per_residue_sem`` (R,); ``per_residue_frames`` (F, R);
    ``pairs`` (R_rec, R_lig) mean direct interaction, rows ``receptor_residues``, columns
    ``ligand_residues`` (indices into ``residues``)."""

    residues: list[tuple[str, str, str, str]]
    per_residue_frames: np.ndarray
    per_residue: np.ndarray
    per_residue_sem: np.ndarray
    receptor_residues: np.ndarray
    ligand_residues: np.ndarray
    pairs: np.ndarray
    scheme: str = (
        "per-atom: half of each pair term to each atom, self and SASA terms to their atom; "
        "pairs: direct Coulomb+LJ+GB pair energy in the complex (no desolvation)"
    )

    def as_dict(self) -> dict:
        rows = []
        for k, (chain, number, name, side) in enumerate(self.residues):
            rows.append(
                {
                    "chain": chain,
                    "residue": number,
                    "name": name,
                    "side": side,
                    "dG_kcal_per_mol": self.per_residue[k] / KJ_PER_KCAL,
                    "sem_kcal_per_mol": self.per_residue_sem[k] / KJ_PER_KCAL,
                }
            )
        pairs = []
        for a, ra in enumerate(self.receptor_residues):
            for b, rb in enumerate(self.ligand_residues):
                if abs(self.pairs[a, b]) >= KJ_PER_KCAL * 0.1:
                    pairs.append(
                        {
                            "receptor": list(self.residues[ra][:3]),
                            "ligand": list(self.residues[rb][:3]),
                            "kcal_per_mol": self.pairs[a, b] / KJ_PER_KCAL,
                        }
                    )
        return {"scheme": self.scheme, "per_residue": rows, "pairs_over_0.1_kcal": pairs}


@dataclass
class MMGBSAResult:
    """Per-frame energies (kJ/mol, arrays (F,)) per component and the ΔG_bind estimate."""

    settings: MMGBSASettings
    complex: dict[str, np.ndarray]
    receptor: dict[str, np.ndarray]
    ligand: dict[str, np.ndarray]
    delta: dict[str, np.ndarray]
    delta_total: np.ndarray
    binding: Estimate  # mean ΔG score over frames (enthalpy-like unless entropy given)
    entropy: InteractionEntropy | None = None
    decomposition: Decomposition | None = None
    info: dict = field(default_factory=dict)

    @property
    def score_kind(self) -> str:
        if self.entropy is None:
            return "MM/GBSA enthalpy-like score: no solute entropy term"
        return "MM/GBSA score + interaction entropy (-TdS): dG = <dE_MM/GBSA> - TdS"

    @property
    def delta_g(self) -> Estimate:
        """The reported binding free energy: score, plus -TΔS if an entropy was estimated."""
        if self.entropy is None:
            return self.binding
        return Estimate(
            self.binding.mean + self.entropy.minus_t_delta_s,
            math.hypot(self.binding.sem, self.entropy.sem),
        )

    def as_dict(self) -> dict:
        delta = {
            k: Estimate(
                float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0
            ).as_dict()
            for k, v in self.delta.items()
        }
        return {
            "score_kind": self.score_kind,
            "dG_bind": self.delta_g.as_dict(),
            "mmgbsa_score": self.binding.as_dict(),
            "entropy": None if self.entropy is None else self.entropy.as_dict(),
            "components_delta_mean_sem_of_mean": delta,
            "n_frames": int(len(self.delta_total)),
            "per_frame_dG_kcal_per_mol": (self.delta_total / KJ_PER_KCAL).tolist(),
            "settings": self.settings.as_dict(),
            "info": self.info,
            "decomposition": None if self.decomposition is None else self.decomposition.as_dict(),
        }


def cut_residue_templates(topology: app.Topology) -> dict:
    """Residue templates for matching without inter-residue bonds (a cut chain): CYS
    without HG is a (possibly cut) disulfide, CYX, not CYM; NCYX / CCYX at a chain's N
    terminus (H2 and H3 on N) or C terminus (OXT)."""
    out = {}
    for residue in topology.residues():
        names = {a.name for a in residue.atoms()}
        if residue.name == "CYS" and "HG" not in names:
            out[residue] = "CCYX" if "OXT" in names else "NCYX" if {"H2", "H3"} <= names else "CYX"
    return out


@functools.lru_cache(maxsize=8)
def _forcefield(*files: str) -> app.ForceField:
    """The ForceField of ``files``, parsed once per process (createSystem does not change it)."""
    return app.ForceField(*files)


def build_system(
    topology: app.Topology, settings: MMGBSASettings, ignore_external_bonds: bool = False
) -> openmm.System:
    """The implicit-solvent System MM/GBSA evaluates (NoCutoff, no constraints, ACE term
    only when ``settings.nonpolar == "ace"``). ``ignore_external_bonds``: match residue
    templates without their inter-residue bonds (a trimmed system, whose chains are cut,
    keeps internal-residue parameters at the cuts)."""
    forcefield = _forcefield(*settings.forcefield, GB_MODELS[settings.gb_model])
    templates = cut_residue_templates(topology) if ignore_external_bonds else {}
    try:
        system = forcefield.createSystem(
            topology,
            nonbondedMethod=app.NoCutoff,
            constraints=None,
            removeCMMotion=False,
            soluteDielectric=settings.solute_dielectric,
            solventDielectric=settings.solvent_dielectric,
            implicitSolventKappa=settings.kappa,
            sasaMethod="ACE" if settings.nonpolar == "ace" else None,
            ignoreExternalBonds=ignore_external_bonds,
            residueTemplates=templates,
        )
    except ValueError as exc:
        raise RankbindError(
            f"cannot parametrise the MM/GBSA complex with {settings.forcefield} + "
            f"{GB_MODELS[settings.gb_model]}: {exc}"
        ) from exc
    scale_coulomb(system, settings.solute_dielectric)
    return system


def scale_coulomb(system: openmm.System, solute_dielectric: float) -> None:
    """Divide the NonbondedForce Coulomb energy by ``solute_dielectric`` in place (charges
    × 1/√ε_in, exception charge products × 1/ε_in; LJ and the GB force's own charges
    untouched), so Coulomb and GB share one solute dielectric."""
    if solute_dielectric <= 0:
        raise RankbindError(f"MM/GBSA solute_dielectric={solute_dielectric}: must be > 0")
    if solute_dielectric == 1.0:
        return
    root = math.sqrt(solute_dielectric)
    for force in system.getForces():
        if isinstance(force, openmm.NonbondedForce):
            for i in range(force.getNumParticles()):
                q, s, e = force.getParticleParameters(i)
                force.setParticleParameters(i, q / root, s, e)
            for i in range(force.getNumExceptions()):
                a, b, qq, s, e = force.getExceptionParameters(i)
                force.setExceptionParameters(i, a, b, qq / solute_dielectric, s, e)


OBC2_RADIUS_OFFSET_NM = 0.009


def native_obc2(system: openmm.System) -> openmm.System:
    """A copy of an OBC2 ``system`` (``implicit/obc2.xml``: a CustomGBForce with per-atom
    charge, offset radius ``or`` and scaled offset radius ``sr``) whose GB force is
    OpenMM's native :class:`openmm.GBSAOBCForce` (OBC2, igb=5: the same energy, several
    times faster on the CPU platform): radius = or + 0.009 nm, scale = sr / or; solute
    and solvent dielectric and κ = 0 as in the XML; ACE surface term kept only if the
    custom force had it."""
    copy = openmm.XmlSerializer.clone(system)
    for k in reversed(range(copy.getNumForces())):
        force = copy.getForce(k)
        if not isinstance(force, openmm.CustomGBForce):
            continue
        names = [force.getPerParticleParameterName(i) for i in range(3)]
        expression = force.getComputedValueParameters(1)[1]
        if names != ["charge", "or", "sr"] or "4.85*psi^3" not in expression:
            raise RankbindError("native_obc2: the System's GB force is not OBC2")
        native = openmm.GBSAOBCForce()
        native.setNonbondedMethod(openmm.GBSAOBCForce.NoCutoff)
        native.setSolventDielectric(78.5)
        native.setSoluteDielectric(1.0)
        has_ace = any(
            is_ace_term(force.getEnergyTermParameters(i)[0])
            for i in range(force.getNumEnergyTerms())
        )
        if not has_ace:
            native.setSurfaceAreaEnergy(0.0)
        for i in range(force.getNumParticles()):
            charge, offset_radius, scaled = force.getParticleParameters(i)
            native.addParticle(
                charge, offset_radius + OBC2_RADIUS_OFFSET_NM, scaled / offset_radius
            )
        copy.removeForce(k)
        copy.addForce(native)
    return copy


def subtopology(topology: app.Topology, atoms: Sequence[int]) -> app.Topology:
    """Topology of ``atoms`` (order preserved) with their bonds."""
    keep = set(int(a) for a in atoms)
    modeller = app.Modeller(topology, [openmm.Vec3(0, 0, 0)] * topology.getNumAtoms())
    modeller.delete([a for a in topology.atoms() if a.index not in keep])
    return modeller.topology


def selection_atoms(topology: app.Topology, chains, selections: str | Sequence[str]) -> list[int]:
    """Atom indices of the union of residue selections (``rankbind.structures.selection``
    grammar, e.g. ``"RANKL"``, ``["RANKL/A", "RANKL/C"]``, ``"OPG"``)."""
    from rankbind.structures.selection import atom_indices

    return atom_indices(topology, chains, selections)


def _check_split(n_atoms: int, receptor: Sequence[int], ligand: Sequence[int]) -> None:
    r, lig = set(map(int, receptor)), set(map(int, ligand))
    if not r or not lig:
        raise SelectionError("MM/GBSA needs a non-empty receptor and ligand")
    if r & lig:
        raise SelectionError(f"receptor and ligand share {len(r & lig)} atoms")
    bad = [a for a in r | lig if not 0 <= a < n_atoms]
    if bad:
        raise SelectionError(f"atom indices {bad[:5]} outside the topology ({n_atoms} atoms)")


class ComplexModel:
    """The complex (receptor ∪ ligand atoms of ``topology``) as an MM/GBSA energy model.

    ``atoms``: complex atoms in topology order; ``group``: 0 receptor / 1 ligand per
    complex atom; ``system``: its OpenMM System; ``topology``: its Topology."""

    def __init__(
        self,
        topology: app.Topology,
        receptor: Sequence[int],
        ligand: Sequence[int],
        settings: MMGBSASettings,
        keep_residues: Sequence[int] | None = None,
    ):
        """``keep_residues``: residue indices of ``topology`` to keep (interface trimming;
        see :func:`trim_residues`); None keeps the whole complex."""
        _check_split(topology.getNumAtoms(), receptor, ligand)
        self.settings = settings
        whole = np.array(sorted(set(map(int, receptor)) | set(map(int, ligand))))
        self.trimmed = keep_residues is not None
        self.keep_residues = None if keep_residues is None else sorted(map(int, keep_residues))
        if keep_residues is None:
            self.atoms = whole
            self.topology = subtopology(topology, self.atoms)
            self.system = build_system(self.topology, settings)
        else:
            keep = set(self.keep_residues)
            residue_of = np.array([a.residue.index for a in topology.atoms()])
            local = np.flatnonzero(np.isin(residue_of[whole], list(keep)))
            if len(local) == 0:
                raise SelectionError("interface trimming kept no atoms")
            self.atoms = whole[local]
            # parametrised on the trimmed residues only (cheap for large complexes):
            # templates matched without external bonds, so residues at a cut keep their
            # internal parameters; terms reaching a deleted atom are absent (they cancel in
            # single-trajectory dG)
            self.topology = subtopology(topology, self.atoms)
            self.system = build_system(self.topology, settings, ignore_external_bonds=True)
        ligand_set = set(map(int, ligand))
        self.group = np.array([1 if a in ligand_set else 0 for a in self.atoms], dtype=np.int64)
        if self.group.min() == self.group.max():
            raise SelectionError("interface trimming left only one side of the complex")
        self.receptor_local = np.flatnonzero(self.group == 0)
        self.ligand_local = np.flatnonzero(self.group == 1)
        # raises if a bond, angle, torsion or exception crosses the split
        self.receptor_system = subsystem(self.system, self.receptor_local)
        self.ligand_system = subsystem(self.system, self.ligand_local)
        self._model = None

    @property
    def model(self):
        if self._model is None:
            from rankbind.energies.jax_energy import EnergyModel

            self._model = EnergyModel(
                extract_parameters(self.system), batch_size=self.settings.batch_size
            )
        return self._model

    # -- nonpolar -------------------------------------------------------------------------
    def sasa(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-atom SASA (F, n) nm² in the complex and with receptor and ligand apart."""
        import mdtraj

        top = mdtraj.Topology.from_openmm(self.topology)
        traj = mdtraj.Trajectory(frames, top)
        kw = dict(
            probe_radius=self.settings.probe_radius,
            n_sphere_points=self.settings.sphere_points,
            mode="atom",
        )
        bound = mdtraj.shrake_rupley(traj, **kw)
        apart = np.zeros_like(bound)
        for part in (self.receptor_local, self.ligand_local):
            apart[:, part] = mdtraj.shrake_rupley(traj.atom_slice(part), **kw)
        return bound, apart

    def _nonpolar_per_atom(self, frames) -> tuple[np.ndarray, np.ndarray]:
        if self.settings.nonpolar != "sasa":
            zero = np.zeros(frames.shape[:2])
            return zero, zero
        gamma = self.settings.surface_tension * KJ_PER_NM2_PER_KCAL_PER_A2
        bound, apart = self.sasa(frames)
        return gamma * bound.astype(float), gamma * apart.astype(float)

    # -- engines --------------------------------------------------------------------------
    def per_atom(self, frames: np.ndarray, progress=None) -> tuple[dict, dict]:
        """JAX per-atom energies {component: (F, n)} kJ/mol (:data:`COMPONENTS`): in the
        complex, and with receptor and ligand each alone. ``progress`` (a
        :class:`rankbind.progress.Progress`) advances by each batch of frames, twice."""
        bound = self.model.per_atom(frames, progress=progress)
        apart = self.model.per_atom(frames, self.group, progress=progress)
        bound["nonpolar"], apart["nonpolar"] = bound.pop("ace"), apart.pop("ace")
        if self.settings.nonpolar == "sasa":
            bound["nonpolar"], apart["nonpolar"] = self._nonpolar_per_atom(frames)
        return bound, apart

    def _sums(self, bound: dict, apart: dict) -> tuple[dict, dict, dict]:
        cx = {k: v.sum(axis=1) for k, v in bound.items()}
        rec = {k: v[:, self.receptor_local].sum(axis=1) for k, v in apart.items()}
        lig = {k: v[:, self.ligand_local].sum(axis=1) for k, v in apart.items()}
        return cx, rec, lig

    def relax(
        self,
        x: np.ndarray,
        restraint_k: float = 1000.0,
        max_iterations: int = 100,
        free_atoms: Sequence[int] = (),
        tolerance: float = 10.0,
    ) -> tuple[np.ndarray, dict]:
        """Restrained minimisation of one frame ``x`` (n, 3) nm of this model's atoms in its
        own System (force field + GB of ``settings``, NoCutoff): heavy atoms held to their
        start by ``restraint_k`` kJ/mol/nm² harmonic restraints, except ``free_atoms``
        (local indices, e.g. a rebuilt side chain); hydrogens free. L-BFGS, CPU platform
        (one thread: reproducible). Always in OBC2 (OpenMM's native GBSAOBCForce, ε_in 1,
        no salt, no surface term) whatever the scoring GB model: the native force is
        several times faster than the CustomGBForce. Returns (positions (n, 3) nm, record)."""
        from rankbind.platforms import single_threaded_cpu

        x0 = np.asarray(x, dtype=float)
        if x0.shape != (len(self.atoms), 3):
            raise RankbindError(f"relax: x has shape {x0.shape}, expected ({len(self.atoms)}, 3)")
        obc2 = self.settings.replace(
            gb_model="OBC2", solute_dielectric=1.0, salt_concentration=0.0, nonpolar="none"
        )
        system = native_obc2(build_system(self.topology, obc2, ignore_external_bonds=self.trimmed))
        restraint = openmm.CustomExternalForce("0.5*k*((x-x0)^2+(y-y0)^2+(z-z0)^2)")
        restraint.addGlobalParameter("k", restraint_k)
        for name in ("x0", "y0", "z0"):
            restraint.addPerParticleParameter(name)
        free = set(map(int, free_atoms))
        heavy = [
            a.index
            for a in self.topology.atoms()
            if a.element is not None and a.element.symbol != "H" and a.index not in free
        ]
        for i in heavy:
            restraint.addParticle(i, x0[i].tolist())
        system.addForce(restraint)
        with single_threaded_cpu() as platform:
            context = openmm.Context(system, openmm.VerletIntegrator(0.001), platform)
            context.setPositions(x0)
            before = context.getState(getEnergy=True).getPotentialEnergy()
            openmm.LocalEnergyMinimizer.minimize(context, tolerance, max_iterations)
            state = context.getState(getEnergy=True, getPositions=True)
        x1 = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        heavy_all = [a.index for a in self.topology.atoms() if a.element.symbol != "H"]
        record = {
            "method": "L-BFGS in the MM/GBSA System (trimmed if trimmed), heavy atoms "
            "restrained harmonically, hydrogens and free_atoms unrestrained, CPU 1 thread",
            "gb_model": "OBC2 (openmm.GBSAOBCForce), eps_in 1, eps_out 78.5, no salt, no SA",
            "restraint_k_kJ_per_mol_nm2": restraint_k,
            "max_iterations": max_iterations,
            "tolerance_kJ_per_mol_nm": tolerance,
            "n_free_heavy_atoms": len(free),
            "energy_before_kJ_per_mol": before.value_in_unit(unit.kilojoule_per_mole),
            "energy_after_kJ_per_mol": state.getPotentialEnergy().value_in_unit(
                unit.kilojoule_per_mole
            ),
            "heavy_atom_rmsd_nm": float(
                np.sqrt(np.mean(np.sum((x1[heavy_all] - x0[heavy_all]) ** 2, axis=1)))
            ),
        }
        return np.asarray(x1, dtype=float), record

    def energies_openmm(self, frames: np.ndarray, progress=None) -> tuple[dict, dict, dict]:
        """{component: (F,)} kJ/mol for complex, receptor, ligand: one OpenMM Context per
        component (platform ``settings.platform``), setPositions and getState per frame.
        ``progress`` advances by one per frame and part (3F in all)."""
        np_bound, np_apart = self._nonpolar_per_atom(frames)
        out = []
        for system, atoms in (
            (self.system, np.arange(len(self.atoms))),
            (self.receptor_system, self.receptor_local),
            (self.ligand_system, self.ligand_local),
        ):
            energies = openmm_components(system, frames[:, atoms], self.settings.platform, progress)
            if self.settings.nonpolar == "sasa":
                source = np_bound if system is self.system else np_apart
                energies["nonpolar"] = source[:, atoms].sum(axis=1)
            out.append(energies)
        return tuple(out)


_PARAMETER = {name: re.compile(rf'(<(?:Particle|Exception) [^>]*\b{name}=")[^"]*"')
              for name in ("eps", "q")}  # fmt: skip


def _zeroed(force: openmm.NonbondedForce, parameter: str) -> openmm.NonbondedForce:
    """A copy of ``force`` with ``parameter`` ("eps": LJ off, "q": Coulomb off) set to 0 for
    every particle and exception (charge products are the exceptions' "q"): an edit of
    the serialised force, which is much faster than per-particle API calls."""
    xml = openmm.XmlSerializer.serialize(force)
    if "ParticleOffsets/>" not in xml or "ExceptionOffsets/>" not in xml:
        raise RankbindError("MM/GBSA components: NonbondedForce parameter offsets unsupported")
    return openmm.XmlSerializer.deserialize(_PARAMETER[parameter].sub(r'\g<1>0"', xml))


def _component_system(system: openmm.System) -> tuple[openmm.System, dict[int, str]]:
    """A copy of ``system`` whose force groups separate the MM/GBSA components: the
    NonbondedForce is split into a Coulomb-only and an LJ-only copy and the GB force into a
    polar copy and (if present) an ACE-only copy."""
    copy = openmm.XmlSerializer.clone(system)
    names = {
        "HarmonicBondForce": "bond",
        "HarmonicAngleForce": "angle",
        "PeriodicTorsionForce": "torsion",
        "CMAPTorsionForce": "cmap",
    }
    groups: dict[int, str] = {}
    extra = []
    for k in reversed(range(copy.getNumForces())):
        force = copy.getForce(k)
        name = type(force).__name__
        if name in names:
            force.setForceGroup(len(groups))
            groups[len(groups)] = names[name]
        elif name == "NonbondedForce":
            extra += [(_zeroed(force, "eps"), "coulomb"), (_zeroed(force, "q"), "lj")]
            copy.removeForce(k)
        elif name == "CustomGBForce":
            extra.append((copy_custom_gb(force, keep_term=lambda e: not is_ace_term(e)), "gb"))
            if any(
                is_ace_term(force.getEnergyTermParameters(i)[0])
                for i in range(force.getNumEnergyTerms())
            ):
                extra.append((copy_custom_gb(force, keep_term=is_ace_term), "nonpolar"))
            copy.removeForce(k)
        else:
            copy.removeForce(k)
    for force, name in extra:
        force.setForceGroup(len(groups))
        groups[len(groups)] = name
        copy.addForce(force)
    return copy, groups


def openmm_components(
    system: openmm.System, frames: np.ndarray, platform: str = "Reference", progress=None
) -> dict[str, np.ndarray]:
    """{component: (F,)} kJ/mol of ``system`` over frames (F, n, 3) nm, by OpenMM;
    ``progress`` (a :class:`rankbind.progress.Progress`) advances by one per frame."""
    from rankbind.platforms import platform_by_name

    split, groups = _component_system(system)
    try:
        context = openmm.Context(split, openmm.VerletIntegrator(0.001), platform_by_name(platform))
    except openmm.OpenMMException as exc:
        raise RankbindError(f"OpenMM platform '{platform}' unusable: {exc}") from exc
    out = {c: np.zeros(len(frames)) for c in COMPONENTS}
    for f, x in enumerate(frames):
        context.setPositions(x)
        for g, name in groups.items():
            state = context.getState(getEnergy=True, groups={g})
            out[name][f] += state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        if progress is not None:
            progress.advance(1)
    return out


def _physics(settings: MMGBSASettings) -> tuple:
    """The settings that define the System and the energy (not how it is evaluated)."""
    return (
        settings.forcefield,
        settings.gb_model,
        settings.solute_dielectric,
        settings.solvent_dielectric,
        settings.salt_concentration,
        settings.nonpolar,
        settings.surface_tension,
        settings.probe_radius,
        settings.sphere_points,
        settings.temperature,
        settings.trim_nm,
    )


def _residues_of(model: ComplexModel) -> tuple[list, np.ndarray]:
    residues, index = [], np.zeros(len(model.atoms), dtype=np.int64)
    for k, res in enumerate(model.topology.residues()):
        atoms = [a.index for a in res.atoms()]
        side = "ligand" if model.group[atoms[0]] == 1 else "receptor"
        residues.append((res.chain.id, res.id, res.name, side))
        index[atoms] = k
    return residues, index


def trim_residues(
    topology: app.Topology,
    frames: np.ndarray,
    receptor: Sequence[int],
    ligand: Sequence[int],
    cutoff_nm: float,
) -> list[int]:
    """Residue indices with a heavy atom within ``cutoff_nm`` of the other side in any
    frame (the interface-trimmed system; k-d tree, O(N log N))."""
    from rankbind.structures.geometry import pairs_within

    frames = np.asarray(frames, dtype=float).reshape(-1, topology.getNumAtoms(), 3)
    atoms = list(topology.atoms())
    heavy = np.array([a.element is not None and a.element.symbol != "H" for a in atoms])
    rec = np.array([i for i in receptor if heavy[i]], dtype=np.int64)
    lig = np.array([i for i in ligand if heavy[i]], dtype=np.int64)
    found: set[int] = set()
    for x in frames:
        pairs = pairs_within(x[rec], x[lig], cutoff_nm)
        found.update(atoms[i].residue.index for i in rec[pairs[:, 0]])
        found.update(atoms[i].residue.index for i in lig[pairs[:, 1]])
    return sorted(found)


def mmgbsa(
    topology: app.Topology,
    frames: np.ndarray,
    receptor: Sequence[int],
    ligand: Sequence[int],
    settings: MMGBSASettings | None = None,
    decompose: bool = False,
    model: ComplexModel | None = None,
    keep_residues: Sequence[int] | None = None,
    progress=True,
) -> MMGBSAResult:
    """Single-trajectory MM/GBSA over ``frames`` (F, N, 3) nm of ``topology``.

    receptor, ligand: disjoint atom indices (whole molecules) of ``topology``; see
    :func:`selection_atoms`. ``model`` reuses a :class:`ComplexModel` (and its compiled
    kernel). With ``settings.trim_nm > 0`` the complex is trimmed to the residues of
    :func:`trim_residues` (or ``keep_residues`` when given, e.g. the wild type's for a
    mutant). Returns per-frame components and ΔG with a bootstrap standard error.
    ``progress``: True (default) reports frame batches on stderr (a bar on a terminal,
    else a line at most every RANKBIND_PROGRESS_INTERVAL_S s and at the end), False
    nothing, or a text stream to report to."""
    settings = settings or MMGBSASettings()
    frames = np.asarray(frames, dtype=float)
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3 or frames.shape[1:] != (topology.getNumAtoms(), 3):
        raise RankbindError(
            f"frames have shape {frames.shape}, expected (F, {topology.getNumAtoms()}, 3) nm"
        )
    if not np.all(np.isfinite(frames)):
        raise RankbindError("frames contain NaN or infinite coordinates")
    if model is None:
        if keep_residues is None and settings.trim_nm > 0:
            keep_residues = trim_residues(topology, frames, receptor, ligand, settings.trim_nm)
        model = ComplexModel(topology, receptor, ligand, settings, keep_residues)
    elif _physics(model.settings) != _physics(settings) or (
        not model.trimmed
        and not np.array_equal(model.atoms, sorted(set(map(int, receptor)) | set(map(int, ligand))))
    ):
        raise RankbindError("the ComplexModel was built for other atoms or physics settings")
    x = frames[:, model.atoms]
    decomposition = None
    if decompose and settings.engine != "jax":
        raise RankbindError("per-residue decomposition needs engine='jax'")
    passes = 2 if settings.engine == "jax" else 3  # complex and apart (or each part)
    with progress_for(progress, "MM/GBSA", passes * len(x), "frame evaluations") as bar:
        if settings.engine == "jax":
            bound, apart = model.per_atom(x, progress=bar)
        else:
            cx, rec, lig = model.energies_openmm(x, progress=bar)
    if settings.engine == "jax":
        cx, rec, lig = model._sums(bound, apart)
        if decompose:
            decomposition = _decompose(model, x, bound, apart, settings)
    delta = {k: cx[k] - rec[k] - lig[k] for k in COMPONENTS}
    total = sum(delta.values())
    mean, sem, uncertainty = mean_sem(
        total, settings.uncertainty, settings.block_length, settings.n_bootstrap, settings.seed
    )
    entropy = None
    if settings.entropy == "interaction":
        interaction = delta["coulomb"] + delta["lj"]
        entropy = interaction_entropy(
            interaction, settings.temperature, settings.n_bootstrap, settings.seed
        )
    return MMGBSAResult(
        settings=settings,
        complex=cx,
        receptor=rec,
        ligand=lig,
        delta=delta,
        delta_total=total,
        binding=Estimate(mean, sem),
        entropy=entropy,
        decomposition=decomposition,
        info={
            "complex_atoms": int(len(model.atoms)),
            "receptor_atoms": int(len(model.receptor_local)),
            "ligand_atoms": int(len(model.ligand_local)),
            "openmm_version": openmm.__version__,
            "uncertainty": uncertainty,
            "trimmed_residues": None if not model.trimmed else len(model.keep_residues),
        },
    )


def _decompose(model, x, bound, apart, settings) -> Decomposition:
    residues, res_index = _residues_of(model)
    n_res = len(residues)
    per_atom = sum(bound[k] - apart[k] for k in COMPONENTS)  # (F, n)
    onehot = np.zeros((len(model.atoms), n_res))
    onehot[np.arange(len(model.atoms)), res_index] = 1.0
    per_residue = per_atom @ onehot  # (F, R)
    rec_res = np.array([k for k, r in enumerate(residues) if r[3] == "receptor"])
    lig_res = np.array([k for k, r in enumerate(residues) if r[3] == "ligand"])
    pairs = model.model.pair_matrix(x, onehot[:, rec_res], onehot[:, lig_res])
    sems = [
        mean_sem(
            per_residue[:, k],
            settings.uncertainty,
            settings.block_length,
            settings.n_bootstrap,
            settings.seed,
        )[1]
        for k in range(n_res)
    ]
    return Decomposition(
        residues=residues,
        per_residue_frames=per_residue,
        per_residue=per_residue.mean(axis=0),
        per_residue_sem=np.array(sems),
        receptor_residues=rec_res,
        ligand_residues=lig_res,
        pairs=pairs.mean(axis=0),
    )
