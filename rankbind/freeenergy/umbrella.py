"""Umbrella sampling of the unbinding of one receptor from the RANKL trimer.

Reaction coordinate: r, the distance (nm) between the mass-weighted centres of the receptor
group (B1: RANK, OPG or the Fab chains) and the RANKL group (A1). Window i adds the bias
0.5 k_i (r - r0_i)² (OpenMM ``CustomCentroidBondForce``). Optional restraints, identical in
all windows (the geometric route of Woo & Roux 2005 / BFEE): five Boresch-style angles over
three reference groups per side (definitions in :mod:`rankbind.freeenergy.pmf`), and an RMSD
restraint 0.5 k RMSD² (``openmm.RMSDForce``) on a chosen atom set. Every choice — groups,
window centres, force constants, temperature, integrator, sampling — lives in a
:class:`UmbrellaPlan`, serialisable to JSON, and every window is an independent job
(:func:`run_window`, one SLURM array task each) that writes its samples atomically.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import openmm
from openmm import app, unit

from rankbind import interrupts
from rankbind.errors import ProtocolError, SimulationError
from rankbind.fileio import atomic_open, write_json
from rankbind.freeenergy.mbar import MBAR
from rankbind.freeenergy.pmf import (
    ANGLES,
    BOLTZMANN_KJ_PER_MOL_K,
    ORIENTATION,
    POLAR,
    binding_free_energy,
    separation_pmf,
)
from rankbind.freeenergy.timeseries import decorrelated_indices, statistical_inefficiency
from rankbind.platforms import PlatformChoice, minimisation_platform, select_platform
from rankbind.progress import Progress
from rankbind.simulation.reporters import ProgressReporter
from rankbind.structures.selection import atom_indices

ATOM_SETS = ("heavy", "ca", "all")
# groups each Boresch angle is built on, indices into (A1, A2, A3, B1, B2, B3)
BORESCH_GROUPS = {
    "thetaA": (1, 0, 3),
    "phiA": (2, 1, 0, 3),
    "thetaB": (0, 3, 4),
    "phiB": (1, 0, 3, 4),
    "phiC": (0, 3, 4, 5),
}


@dataclass
class BoreschRestraint:
    """Harmonic restraints on the five angles of ``BORESCH_GROUPS`` that have a force
    constant. groups: A2, A3 (RANKL) and B2, B3 (receptor) atom indices and selections;
    A1 and B1 are the umbrella groups. references_rad: angle values held (from the starting
    structure by default); force_constants: kJ/mol/rad²."""

    groups: dict[str, list[int]]
    selections: dict[str, str]
    references_rad: dict[str, float]
    force_constants: dict[str, float]


@dataclass
class RMSDRestraint:
    """0.5 k RMSD² on ``atoms`` (after optimal superposition on ``reference_nm``, (n, 3))."""

    selection: str
    atoms: list[int]
    reference_nm: list[list[float]]
    force_constant: float  # kJ/mol/nm²


@dataclass
class UmbrellaPlan:
    """Everything that defines an umbrella-sampling run; units nm, ps, K, kJ/mol."""

    ligand_selection: str
    receptor_selection: str
    atom_set: str
    ligand_atoms: list[int]
    receptor_atoms: list[int]
    mobile_atoms: list[int]  # all atoms moved rigidly by place_receptor
    centres_nm: list[float]
    force_constants: list[float]  # kJ/mol/nm², one per window
    temperature_K: float = 300.0
    timestep_ps: float = 0.002
    friction_per_ps: float = 1.0
    steps_per_sample: int = 500
    samples: int = 1000
    equilibration_steps: int = 25000
    minimisation_iterations: int = 200
    boresch: BoreschRestraint | None = None
    rmsd: RMSDRestraint | None = None
    notes: dict = field(default_factory=dict)

    @property
    def n_windows(self) -> int:
        return len(self.centres_nm)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> UmbrellaPlan:
        data = dict(data)
        try:
            if data.get("boresch") is not None:
                data["boresch"] = BoreschRestraint(**data["boresch"])
            if data.get("rmsd") is not None:
                data["rmsd"] = RMSDRestraint(**data["rmsd"])
            plan = cls(**data)
        except TypeError as exc:
            raise ProtocolError(f"umbrella plan: {exc}") from None
        plan.validate()
        return plan

    def sha256(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def write(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def read(cls, path: str | Path) -> UmbrellaPlan:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ProtocolError(f"{path}: cannot read umbrella plan: {exc}") from None
        try:
            return cls.from_dict(data)
        except ProtocolError as exc:
            raise ProtocolError(f"{path}: {exc}") from None

    def validate(self) -> None:
        """Raise ProtocolError naming the field that is inconsistent."""
        if self.atom_set not in ATOM_SETS:
            raise ProtocolError(f"atom_set '{self.atom_set}' not one of {ATOM_SETS}")
        if not self.ligand_atoms or not self.receptor_atoms:
            raise ProtocolError("ligand_atoms and receptor_atoms must be non-empty")
        if set(self.ligand_atoms) & set(self.receptor_atoms):
            raise ProtocolError("ligand_atoms and receptor_atoms overlap")
        if len(self.centres_nm) != len(self.force_constants) or not self.centres_nm:
            raise ProtocolError(
                f"centres_nm ({len(self.centres_nm)}) and force_constants "
                f"({len(self.force_constants)}) must be equally long and non-empty"
            )
        if min(self.centres_nm) < 0 or min(self.force_constants) <= 0:
            raise ProtocolError("centres_nm must be >= 0 and force_constants > 0")
        for name in ("temperature_K", "timestep_ps", "friction_per_ps"):
            if getattr(self, name) <= 0:
                raise ProtocolError(f"{name} must be positive")
        for name in ("steps_per_sample", "samples"):
            if getattr(self, name) < 1:
                raise ProtocolError(f"{name} must be >= 1")
        if self.boresch is not None:
            unknown = set(self.boresch.force_constants) - set(BORESCH_GROUPS)
            if unknown or not self.boresch.force_constants:
                raise ProtocolError(
                    f"boresch.force_constants: need a subset of {list(BORESCH_GROUPS)}; "
                    f"got {sorted(self.boresch.force_constants)}"
                )
            missing = {"A2", "A3", "B2", "B3"} - set(self.boresch.groups)
            if missing:
                raise ProtocolError(f"boresch.groups lacks {sorted(missing)}")

    def angle_restraints(self) -> dict[str, tuple[float, float]]:
        """Boresch angles that are on: name -> (reference rad, k kJ/mol/rad²)."""
        if self.boresch is None:
            return {}
        return {
            n: (self.boresch.references_rad[n], k) for n, k in self.boresch.force_constants.items()
        }


# ---------------------------------------------------------------- geometry (numpy reference)


def group_atoms(topology, chains, selection: str, atom_set: str = "heavy") -> list[int]:
    """Sorted atom indices of ``selection`` restricted to ``atom_set`` (heavy atoms, CA atoms,
    or all atoms). ``selection`` is one or more rankbind selections joined by '+', e.g.
    ``FAB_HEAVY+FAB_LIGHT`` for a Fab."""
    if atom_set not in ATOM_SETS:
        raise ProtocolError(f"atom set '{atom_set}' not one of {ATOM_SETS}")
    indices = atom_indices(topology, chains, selection, heavy=atom_set != "all")
    if atom_set == "ca":
        names = {a.index: a.name for a in topology.atoms()}
        indices = [i for i in indices if names[i] == "CA"]
    if not indices:
        raise ProtocolError(f"selection '{selection}' ({atom_set} atoms) selects no atoms")
    return indices


def masses_of(system: openmm.System) -> np.ndarray:
    """(n_particles,) masses in dalton."""
    return np.array(
        [
            system.getParticleMass(i).value_in_unit(unit.dalton)
            for i in range(system.getNumParticles())
        ]
    )


def centre_of_mass(xyz: np.ndarray, masses: np.ndarray, atoms) -> np.ndarray:
    """Mass-weighted centre (..., 3) of ``atoms`` in ``xyz`` (..., n_atoms, 3)."""
    m = masses[atoms]
    return np.einsum("...ij,i->...j", xyz[..., atoms, :], m) / m.sum()


def angle(p1: np.ndarray, p2: np.ndarray, p3: np.ndarray) -> np.ndarray:
    """Angle p1-p2-p3 in rad; points (..., 3)."""
    a, b = p1 - p2, p3 - p2
    cos = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def dihedral(p1, p2, p3, p4) -> np.ndarray:
    """IUPAC dihedral p1-p2-p3-p4 in rad, (-π, π]; points (..., 3)."""
    b1, b2, b3 = p2 - p1, p3 - p2, p4 - p3
    n1, n2 = np.cross(b1, b2), np.cross(b2, b3)
    y = np.linalg.norm(b2, axis=-1) * np.sum(b1 * n2, -1)
    return np.arctan2(y, np.sum(n1 * n2, -1))


def restraint_coordinates(plan: UmbrellaPlan, xyz: np.ndarray, masses: np.ndarray) -> dict:
    """r (nm) and the Boresch angles (rad) of frames ``xyz`` (..., n_atoms, 3) in nm."""
    a1 = centre_of_mass(xyz, masses, plan.ligand_atoms)
    b1 = centre_of_mass(xyz, masses, plan.receptor_atoms)
    out = {"r_nm": np.linalg.norm(b1 - a1, axis=-1)}
    if plan.boresch is not None:
        g = plan.boresch.groups
        centres = [a1, *(centre_of_mass(xyz, masses, g[k]) for k in ("A2", "A3"))]
        centres += [b1, *(centre_of_mass(xyz, masses, g[k]) for k in ("B2", "B3"))]
        for name in plan.boresch.force_constants:
            pts = [centres[i] for i in BORESCH_GROUPS[name]]
            out[name] = angle(*pts) if name in ANGLES else dihedral(*pts)
    return out


def check_boresch_geometry(plan: UmbrellaPlan, xyz: np.ndarray, masses: np.ndarray) -> None:
    """Raise ProtocolError if any bond angle of the Boresch angles and dihedrals is within 20°
    of collinear in ``xyz`` (nm): there the dihedrals are ill-defined and the restraint is
    singular."""
    g = plan.boresch.groups
    names = ("A1", "A2", "A3", "B1", "B2", "B3")
    c = [centre_of_mass(xyz, masses, a) for a in (plan.ligand_atoms, g["A2"], g["A3"])]
    c += [centre_of_mass(xyz, masses, a) for a in (plan.receptor_atoms, g["B2"], g["B3"])]
    for name in plan.boresch.force_constants:
        idx = BORESCH_GROUPS[name]
        for triple in (idx[:3], idx[1:]) if len(idx) == 4 else (idx,):
            value = angle(*(c[i] for i in triple))
            if not 0.35 < value < np.pi - 0.35:
                label = "-".join(names[i] for i in triple)
                raise ProtocolError(
                    f"Boresch {name}: angle {label} = {np.degrees(value):.1f}° is within 20° "
                    "of collinear; choose other reference groups (selections "
                    f"{plan.boresch.selections})"
                )


# ---------------------------------------------------------------- planning


def make_plan(
    topology,
    chains,
    positions_nm: np.ndarray,
    masses: np.ndarray,
    *,
    receptor_selection: str,
    ligand_selection: str = "RANKL",
    atom_set: str = "heavy",
    centres_nm: list[float] | None = None,
    pull_nm: float = 2.0,
    spacing_nm: float = 0.1,
    force_constant: float = 1000.0,
    boresch_selections: dict[str, str] | None = None,
    boresch_force_constant: float = 41.84,
    rmsd_selection: str | None = None,
    rmsd_force_constant: float = 1000.0,
    **settings,
) -> UmbrellaPlan:
    """An :class:`UmbrellaPlan` for a prepared complex.

    topology, chains: OpenMM topology and the assembly's ChainInfo records; positions_nm
    (n_atoms, 3); masses (n_atoms,) dalton (see :func:`masses_of`). Default windows: from the
    starting separation r_bound to r_bound + pull_nm every spacing_nm, each with
    ``force_constant`` kJ/mol/nm² (1000 kJ/mol/nm² gives a window width sqrt(kT/k) ≈ 0.05 nm
    at 300 K). boresch_selections: selections for A2, A3 (on RANKL) and B2, B3 (on the
    receptor); all five angles are held at their starting values with
    ``boresch_force_constant`` kJ/mol/rad². rmsd_selection: atoms (same atom_set) for the RMSD
    restraint, referenced to the starting positions. Other keyword arguments set plan fields
    (temperature_K, samples, ...)."""
    xyz = np.asarray(positions_nm, dtype=float)
    ligand = group_atoms(topology, chains, ligand_selection, atom_set)
    receptor = group_atoms(topology, chains, receptor_selection, atom_set)
    mobile = group_atoms(topology, chains, receptor_selection, "all")
    if centres_nm is None:
        r0 = float(
            np.linalg.norm(
                centre_of_mass(xyz, masses, receptor) - centre_of_mass(xyz, masses, ligand)
            )
        )
        centres_nm = [
            round(r0 + i * spacing_nm, 6) for i in range(int(round(pull_nm / spacing_nm)) + 1)
        ]
    plan = UmbrellaPlan(
        ligand_selection=ligand_selection,
        receptor_selection=receptor_selection,
        atom_set=atom_set,
        ligand_atoms=ligand,
        receptor_atoms=receptor,
        mobile_atoms=mobile,
        centres_nm=[float(c) for c in centres_nm],
        force_constants=[float(force_constant)] * len(centres_nm),
        **settings,
    )
    if boresch_selections is not None:
        missing = {"A2", "A3", "B2", "B3"} - set(boresch_selections)
        if missing:
            raise ProtocolError(f"boresch selections lack {sorted(missing)}")
        groups = {
            g: group_atoms(topology, chains, s, atom_set) for g, s in boresch_selections.items()
        }
        plan.boresch = BoreschRestraint(
            groups=groups,
            selections=dict(boresch_selections),
            references_rad={},
            force_constants=dict.fromkeys(BORESCH_GROUPS, float(boresch_force_constant)),
        )
        values = restraint_coordinates(plan, xyz, masses)
        plan.boresch.references_rad = {n: float(values[n]) for n in BORESCH_GROUPS}
        check_boresch_geometry(plan, xyz, masses)
    if rmsd_selection is not None:
        atoms = group_atoms(topology, chains, rmsd_selection, atom_set)
        plan.rmsd = RMSDRestraint(
            rmsd_selection, atoms, xyz[atoms].round(6).tolist(), float(rmsd_force_constant)
        )
    plan.validate()
    return plan


# ---------------------------------------------------------------- OpenMM forces


def umbrella_force(plan: UmbrellaPlan, window: int, periodic: bool = False) -> openmm.Force:
    """0.5 k (r - r0)² between the mass-weighted centres of the RANKL and receptor groups."""
    force = openmm.CustomCentroidBondForce(2, "0.5*k_umbrella*(distance(g1,g2)-r0_umbrella)^2")
    force.addPerBondParameter("k_umbrella")
    force.addPerBondParameter("r0_umbrella")
    force.addGroup(plan.ligand_atoms)
    force.addGroup(plan.receptor_atoms)
    force.addBond([0, 1], [plan.force_constants[window], plan.centres_nm[window]])
    force.setUsesPeriodicBoundaryConditions(periodic)
    force.setName("UmbrellaSeparation")
    return force


def boresch_force(plan: UmbrellaPlan, periodic: bool = False) -> openmm.Force:
    """Harmonic restraints on the Boresch angles that have force constants (kJ/mol/rad²);
    dihedral deviations are wrapped to (-π, π]."""
    b = plan.boresch
    terms, defs = [], []
    for name in b.force_constants:
        g = ",".join(f"g{i + 1}" for i in BORESCH_GROUPS[name])
        if name in ANGLES:
            terms.append(f"0.5*k_{name}*(angle({g})-ref_{name})^2")
        else:
            terms.append(f"0.5*k_{name}*d_{name}^2")
            defs.append(
                f"d_{name}=x_{name}-6.283185307179586*floor(x_{name}/6.283185307179586+0.5)"
            )
            defs.append(f"x_{name}=dihedral({g})-ref_{name}")
    force = openmm.CustomCentroidBondForce(6, ";".join(["+".join(terms)] + defs))
    params = []
    for name, k in b.force_constants.items():
        force.addPerBondParameter(f"k_{name}")
        force.addPerBondParameter(f"ref_{name}")
        params += [k, b.references_rad[name]]
    for group in (plan.ligand_atoms, b.groups["A2"], b.groups["A3"]):
        force.addGroup(group)
    for group in (plan.receptor_atoms, b.groups["B2"], b.groups["B3"]):
        force.addGroup(group)
    force.addBond(list(range(6)), params)
    force.setUsesPeriodicBoundaryConditions(periodic)
    force.setName("BoreschOrientation")
    return force


def rmsd_force(plan: UmbrellaPlan, n_particles: int) -> openmm.Force:
    """0.5 k RMSD² of the restrained atoms after optimal superposition on the reference."""
    rmsd = plan.rmsd
    reference = np.zeros((n_particles, 3))
    reference[rmsd.atoms] = np.asarray(rmsd.reference_nm)
    cv = openmm.RMSDForce(reference, rmsd.atoms)
    force = openmm.CustomCVForce("0.5*k_rmsd*rmsd^2")
    force.addGlobalParameter("k_rmsd", rmsd.force_constant)
    force.addCollectiveVariable("rmsd", cv)
    force.setName("RMSDConformation")
    return force


def restrained_system(plan: UmbrellaPlan, system: openmm.System, window: int) -> openmm.System:
    """A copy of ``system`` with the window's umbrella and the plan's other restraints."""
    out = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))
    periodic = system.usesPeriodicBoundaryConditions()
    n = out.getNumParticles()
    named = plan.ligand_atoms + plan.receptor_atoms + plan.mobile_atoms
    if plan.boresch is not None:
        named = named + [i for g in plan.boresch.groups.values() for i in g]
    if plan.rmsd is not None:
        named = named + plan.rmsd.atoms
    if max(named) >= n:
        raise ProtocolError(f"plan names atom {max(named)} but the system has {n} particles")
    if periodic:
        vectors = system.getDefaultPeriodicBoxVectors()
        shortest = min(v[i].value_in_unit(unit.nanometer) for i, v in enumerate(vectors))
        if plan.centres_nm[window] >= 0.5 * shortest:
            raise ProtocolError(
                f"window {window}: centre {plan.centres_nm[window]} nm is not below half the "
                f"shortest box edge ({shortest:.2f} nm); the minimum-image separation breaks"
            )
    out.addForce(umbrella_force(plan, window, periodic))
    if plan.boresch is not None:
        out.addForce(boresch_force(plan, periodic))
    if plan.rmsd is not None:
        out.addForce(rmsd_force(plan, n))
    return out


def place_receptor(
    plan: UmbrellaPlan, xyz: np.ndarray, masses: np.ndarray, r_nm: float
) -> np.ndarray:
    """Copy of ``xyz`` (n_atoms, 3) nm with the receptor (``mobile_atoms``) translated rigidly
    along the centre-of-mass separation vector to separation ``r_nm``. Suitable to seed windows
    in vacuum or implicit solvent; in explicit solvent seed from a pulling run instead."""
    xyz = np.array(xyz, dtype=float)
    d = centre_of_mass(xyz, masses, plan.receptor_atoms) - centre_of_mass(
        xyz, masses, plan.ligand_atoms
    )
    dist = np.linalg.norm(d)
    xyz[plan.mobile_atoms] += d / dist * (r_nm - dist)
    return xyz


# ---------------------------------------------------------------- one window = one job


def _platform_choice(platform) -> PlatformChoice:
    """The platform rules of rankbind.platforms: None -> CUDA, OpenCL, CPU (never PoCL);
    an openmm.Platform or a name is used as given."""
    if platform is None:
        return select_platform()
    if isinstance(platform, PlatformChoice):
        return platform
    name = platform.getName() if isinstance(platform, openmm.Platform) else str(platform)
    return select_platform(name)


def _window_integrator(plan: UmbrellaPlan, seed: int) -> openmm.LangevinMiddleIntegrator:
    integrator = openmm.LangevinMiddleIntegrator(
        plan.temperature_K * unit.kelvin,
        plan.friction_per_ps / unit.picosecond,
        plan.timestep_ps * unit.picosecond,
    )
    integrator.setRandomNumberSeed(seed)
    return integrator


def _minimise(plan, system, context, choice, box_vectors, seed, window_index) -> None:
    """Restrained minimisation of ``context`` with progress; on the CPU platform when the
    dynamics run on PoCL (minimisation_platform); stops at an iteration on a signal."""
    from rankbind.simulation import _MinimisationProgress

    helper_choice = minimisation_platform(choice)
    target = context
    if helper_choice.name != choice.name:
        target = openmm.Context(
            system,
            _window_integrator(plan, seed),
            helper_choice.platform,
            helper_choice.properties,
        )
        if box_vectors is not None:
            target.setPeriodicBoxVectors(*box_vectors)
        target.setPositions(context.getState(getPositions=True).getPositions())
    progress = Progress(
        f"window {window_index} minimise", plan.minimisation_iterations, unit="iterations"
    )
    with interrupts.deferred():
        openmm.LocalEnergyMinimizer.minimize(
            target, 10.0, plan.minimisation_iterations, _MinimisationProgress(progress)
        )
    progress.close()
    if target is not context:
        context.setPositions(target.getState(getPositions=True).getPositions())


class _WindowSampler:
    """OpenMM reporter: after ``equilibration_steps``, every ``steps_per_sample`` steps,
    the restraint coordinates and the potential energy (a NaN stops the window)."""

    def __init__(self, plan: UmbrellaPlan, masses: np.ndarray, window_index: int):
        self.plan, self.masses, self.window = plan, masses, window_index
        self.coords: list[dict] = []
        self.energies: list[float] = []

    def describeNextReport(self, simulation):  # noqa: N802 (OpenMM's name)
        start, every = self.plan.equilibration_steps, self.plan.steps_per_sample
        step = simulation.currentStep
        steps = start + every - step if step < start else every - (step - start) % every
        return {"steps": steps, "periodic": False, "include": ["positions", "energy"]}

    def report(self, simulation, state) -> None:
        energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        if not np.isfinite(energy):
            raise SimulationError(
                f"window {self.window}: potential energy {energy} at sample "
                f"{len(self.energies)} (step {simulation.currentStep})"
            )
        self.energies.append(energy)
        frame = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        self.coords.append(restraint_coordinates(self.plan, frame, self.masses))


def window_paths(out_dir: str | Path, window: int) -> tuple[Path, Path]:
    """(samples .npz, metadata .json) of window ``window`` under ``out_dir``."""
    out = Path(out_dir)
    return out / f"window_{window:03d}.npz", out / f"window_{window:03d}.json"


def reduced_bias(plan: UmbrellaPlan, r_nm: np.ndarray) -> np.ndarray:
    """(K, n) reduced umbrella bias of every window at separations r_nm (n,)."""
    beta = 1.0 / (BOLTZMANN_KJ_PER_MOL_K * plan.temperature_K)
    k = np.asarray(plan.force_constants)[:, None]
    r0 = np.asarray(plan.centres_nm)[:, None]
    return beta * 0.5 * k * (np.asarray(r_nm)[None, :] - r0) ** 2


def run_window(
    plan: UmbrellaPlan,
    window_index: int,
    out_dir: str | Path,
    system: openmm.System,
    positions_nm: np.ndarray,
    *,
    platform: openmm.Platform | PlatformChoice | str | None = None,
    seed: int | None = None,
    place: bool = False,
    box_vectors=None,
) -> Path:
    """Simulate window ``window_index`` and write its samples; returns the .npz path.

    system: the unrestrained OpenMM system (the plan's forces are added to a copy);
    positions_nm (n_atoms, 3) the start; place: first translate the receptor rigidly to the
    window centre (:func:`place_receptor`). Runs restrained minimisation, ``equilibration_steps``
    of Langevin dynamics, then ``samples`` samples every ``steps_per_sample`` steps.

    Output (each written atomically; the .json last, so its presence marks completion):
    window_NNN.npz with time_ps (n,), r_nm (n,), one array per Boresch angle (rad, n),
    potential_kJ (n,) (total, including restraints), u_bias_kn (K, n) reduced umbrella bias of
    every window at each sample; window_NNN.json with the plan hash, window, seed, platform,
    OpenMM version and timing."""
    if not 0 <= window_index < plan.n_windows:
        raise ProtocolError(f"window {window_index} not in 0..{plan.n_windows - 1}")
    started = time.time()
    masses = masses_of(system)
    xyz = np.asarray(positions_nm, dtype=float)
    if xyz.shape != (system.getNumParticles(), 3):
        raise ProtocolError(
            f"positions have shape {xyz.shape}; the system has {system.getNumParticles()} particles"
        )
    if place:
        xyz = place_receptor(plan, xyz, masses, plan.centres_nm[window_index])
    restrained = restrained_system(plan, system, window_index)
    seed = int(seed if seed is not None else 1000 + window_index)
    choice = _platform_choice(platform)
    simulation = app.Simulation(
        None, restrained, _window_integrator(plan, seed), choice.platform, choice.properties
    )
    context = simulation.context
    if box_vectors is not None:
        context.setPeriodicBoxVectors(*box_vectors)
    context.setPositions(xyz * unit.nanometer)
    if plan.minimisation_iterations > 0:
        _minimise(plan, restrained, context, choice, box_vectors, seed, window_index)
    context.setVelocitiesToTemperature(plan.temperature_K * unit.kelvin, seed)
    sampler = _WindowSampler(plan, masses, window_index)
    progress = Progress(
        f"window {window_index}", plan.equilibration_steps + plan.samples * plan.steps_per_sample
    )
    simulation.reporters = [sampler, ProgressReporter(progress, plan.steps_per_sample)]
    simulation.step(plan.equilibration_steps + plan.samples * plan.steps_per_sample)
    progress.close()
    coords, energies = sampler.coords, sampler.energies
    coords = {name: np.array([c[name] for c in coords]) for name in coords[0]}
    dt = plan.timestep_ps * plan.steps_per_sample
    data = {
        "time_ps": dt * np.arange(1, plan.samples + 1),
        "potential_kJ": np.array(energies),
        "u_bias_kn": reduced_bias(plan, coords["r_nm"]),
        **coords,
    }
    meta = {
        "seed": seed,
        "platform": context.getPlatform().getName(),
        "platform_choice": choice.describe(),
        "openmm_version": openmm.__version__,
        "wall_s": round(time.time() - started, 3),
    }
    return write_window(plan, window_index, out_dir, data, meta)


def write_window(
    plan: UmbrellaPlan, window_index: int, out_dir: str | Path, data: dict, meta: dict
) -> Path:
    """Write one window's samples (.npz: arrays as in :func:`run_window`) and then its
    metadata (.json, with the plan hash), each atomically; returns the .npz path."""
    npz, meta_path = window_paths(out_dir, window_index)
    with atomic_open(npz, "wb") as handle:
        np.savez(handle, **data)
    write_json(
        meta_path,
        {
            **meta,
            "plan_sha256": plan.sha256(),
            "window": window_index,
            "centre_nm": plan.centres_nm[window_index],
            "force_constant_kJ_per_mol_nm2": plan.force_constants[window_index],
            "samples": int(np.asarray(data["r_nm"]).size),
            "samples_file": npz.name,
        },
    )
    return npz


def collect_windows(
    plan: UmbrellaPlan, out_dir: str | Path, decorrelate: bool = True
) -> dict[str, np.ndarray]:
    """Concatenate every window's samples for MBAR: u_kn (K, N) reduced bias, N_k (K,),
    r_nm (N,), the Boresch angles (N,), and g_k (K,) the statistical inefficiency of each
    window's r series; with ``decorrelate`` only every g_k-th sample is kept. Raises
    ProtocolError naming a missing or foreign (different plan) window file."""
    digest = plan.sha256()
    parts, g_k = [], []
    for k in range(plan.n_windows):
        npz, meta = window_paths(out_dir, k)
        if not meta.is_file() or not npz.is_file():
            raise ProtocolError(f"window {k} is incomplete: {meta} or {npz} missing")
        info = json.loads(meta.read_text())
        if info.get("plan_sha256") != digest:
            raise ProtocolError(f"{meta} was produced by a different plan (sha256 mismatch)")
        with np.load(npz) as data:
            part = {name: data[name] for name in data.files}
        g = statistical_inefficiency(part["r_nm"]) if part["r_nm"].size > 1 else 1.0
        if decorrelate:
            keep = decorrelated_indices(part["r_nm"].size, g)
            part = {n: (v[:, keep] if n == "u_bias_kn" else v[keep]) for n, v in part.items()}
        parts.append(part)
        g_k.append(g)
    out = {
        "u_kn": np.concatenate([p["u_bias_kn"] for p in parts], axis=1),
        "N_k": np.array([p["r_nm"].size for p in parts]),
        "g_k": np.array(g_k),
    }
    for name in ["r_nm", *(n for n in POLAR + ORIENTATION if n in parts[0])]:
        out[name] = np.concatenate([p[name] for p in parts])
    return out


def analyse_windows(
    plan: UmbrellaPlan,
    out_dir: str | Path,
    *,
    site_max_nm: float,
    bulk_shell_nm: tuple[float, float],
    bin_width_nm: float = 0.05,
    site_release: tuple[float, float] | None = None,
    bulk_conformation: tuple[float, float] | None = None,
    decorrelate: bool = True,
) -> dict:
    """MBAR over all windows of ``plan`` in ``out_dir``; returns a JSON-ready dict with the
    separation PMF (kT, relative to the bulk shell's bin), the binding free energy
    (:func:`rankbind.freeenergy.pmf.binding_free_energy`), per-window sample counts and
    statistical inefficiencies. site_release / bulk_conformation: (dG, error) kJ/mol."""
    data = collect_windows(plan, out_dir, decorrelate=decorrelate)
    mbar = MBAR(data["u_kn"], data["N_k"])
    r = data["r_nm"]
    u0 = np.zeros_like(r)  # u_kn holds bias energies only: the unbiased state has zero bias
    binding = binding_free_energy(
        mbar,
        u0,
        r,
        site_max_nm=site_max_nm,
        bulk_shell_nm=bulk_shell_nm,
        temperature_K=plan.temperature_K,
        angle_restraints=plan.angle_restraints(),
        rmsd_restraint=plan.rmsd is not None,
        site_release=site_release,
        bulk_conformation=bulk_conformation,
    )
    lo = bin_width_nm * np.floor(r.min() / bin_width_nm)
    edges = lo + bin_width_nm * np.arange(int(np.floor((r.max() - lo) / bin_width_nm)) + 2)
    ref = int(np.searchsorted(edges, bulk_shell_nm[0], side="right") - 1)
    pmf = separation_pmf(mbar, u0, r, edges, reference_bin=min(ref, edges.size - 2))
    return {
        "binding": binding.to_dict(),
        "pmf": {k: np.asarray(v).tolist() for k, v in pmf.items()},
        "windows": {
            "centres_nm": plan.centres_nm,
            "samples_used": data["N_k"].tolist(),
            "statistical_inefficiency": data["g_k"].round(3).tolist(),
        },
        "plan_sha256": plan.sha256(),
        "mbar_newton_iterations": mbar.n_iter,
    }
