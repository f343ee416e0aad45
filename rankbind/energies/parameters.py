"""Read every energy parameter of an implicit-solvent OpenMM System into numpy arrays.

Supported forces (anything else raises :class:`UnsupportedSystemError`):
``HarmonicBondForce``, ``HarmonicAngleForce``, ``PeriodicTorsionForce``,
``CMAPTorsionForce``, ``NonbondedForce`` with ``NoCutoff`` (charges, σ, ε, and the
exception list carrying exclusions and scaled 1-4 pairs), and a ``CustomGBForce`` built by
``openmm.app.internal.customgbforces`` for OBC1, OBC2 (igb=5), GBn (igb=7) or GBn2 (igb=8)
without cutoff, with or without the ACE nonpolar term. ``CMMotionRemover`` is ignored.

The GB expressions are checked against the exact OpenMM expressions reproduced by
:mod:`rankbind.energies.jax_energy`; the constants (dielectrics, κ, offset, neck scale and
cutoff) are read from the expressions, the per-particle parameters (charge, offset radius
``or``, scaled radius ``sr``, α/β/γ, neck radius index) and the GBn/GBn2 neck tables
(``getd0``/``getm0`` ``Discrete2DFunction``) from the force. Units: nm, kJ/mol, radians,
elementary charges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import openmm

from rankbind.errors import RankbindError

ONE_4PI_EPS0 = 138.93545764438198  # kJ mol^-1 nm e^-2, OpenMM's NonbondedForce constant


class UnsupportedSystemError(RankbindError):
    """The System holds a force or setting the MM/GBSA energy does not reproduce."""


@dataclass(frozen=True)
class GBParameters:
    """A CustomGBForce of the OBC/GBn family, as arrays of shape (n_atoms,)."""

    model: str  # "OBC1", "OBC2", "GBn", "GBn2"
    charge: np.ndarray
    offset_radius: np.ndarray  # "or" = intrinsic radius - offset (nm)
    scaled_radius: np.ndarray  # "sr" = screen * or (nm)
    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    offset: float  # nm
    solute_dielectric: float
    solvent_dielectric: float
    kappa: float  # nm^-1
    prefactor: float  # 138.935485 in OpenMM's GB expressions
    ace: bool  # ACE nonpolar term present
    ace_constant: float  # kJ/mol/nm^2 (28.3919551 = 4π·0.0054 kcal/mol/Å² in kJ/mol/nm²)
    ace_probe: float  # nm
    neck: bool
    neck_scale: float
    neck_cut: float  # nm
    radius_index: np.ndarray  # int, into d0/m0
    d0: np.ndarray  # (n, n) nm; d0[a, b] = getd0(a, b)
    m0: np.ndarray  # (n, n)


@dataclass(frozen=True)
class CMAPParameters:
    """CMAP maps and torsion pairs. maps: (n_maps, size, size) kJ/mol, map[i, j] at
    φ = 2πi/size, ψ = 2πj/size (OpenMM's convention). atoms: (n, 8) int; map_index: (n,)."""

    maps: np.ndarray
    map_index: np.ndarray
    atoms: np.ndarray


@dataclass(frozen=True)
class EnergyParameters:
    """Everything the JAX energy needs. Index arrays are int64, values float64."""

    n_atoms: int
    charge: np.ndarray  # (N,) e
    sigma: np.ndarray  # (N,) nm
    epsilon: np.ndarray  # (N,) kJ/mol
    exception_atoms: np.ndarray  # (n_exc, 2)
    exception_charge_product: np.ndarray  # (n_exc,) e^2
    exception_sigma: np.ndarray  # (n_exc,) nm
    exception_epsilon: np.ndarray  # (n_exc,) kJ/mol
    bond_atoms: np.ndarray  # (n_bonds, 2)
    bond_length: np.ndarray  # nm
    bond_k: np.ndarray  # kJ/mol/nm^2; E = k/2 (r - r0)^2
    angle_atoms: np.ndarray  # (n_angles, 3)
    angle_theta0: np.ndarray  # rad
    angle_k: np.ndarray  # kJ/mol/rad^2; E = k/2 (θ - θ0)^2
    torsion_atoms: np.ndarray  # (n_torsions, 4)
    torsion_periodicity: np.ndarray
    torsion_phase: np.ndarray  # rad
    torsion_k: np.ndarray  # kJ/mol; E = k (1 + cos(nφ - φ0))
    cmap: CMAPParameters | None
    gb: GBParameters | None


def _forces_by_type(system: openmm.System) -> dict[str, openmm.Force]:
    known = {
        "HarmonicBondForce",
        "HarmonicAngleForce",
        "PeriodicTorsionForce",
        "CMAPTorsionForce",
        "NonbondedForce",
        "CustomGBForce",
        "CMMotionRemover",
    }
    out: dict[str, openmm.Force] = {}
    for force in system.getForces():
        name = type(force).__name__
        if name not in known:
            raise UnsupportedSystemError(
                f"System force {name} is not part of the MM/GBSA energy (supported: "
                f"{', '.join(sorted(known))}); build the System with an Amber force field and "
                "implicit/gbn2.xml or implicit/obc2.xml"
            )
        if name in out:
            raise UnsupportedSystemError(f"System holds more than one {name}")
        out[name] = force
    if "NonbondedForce" not in out:
        raise UnsupportedSystemError("System has no NonbondedForce")
    for i in range(system.getNumParticles()):
        if system.isVirtualSite(i):
            raise UnsupportedSystemError(f"particle {i} is a virtual site (not supported)")
    return out


def _nonbonded(force: openmm.NonbondedForce) -> dict[str, np.ndarray]:
    if force.getNonbondedMethod() != openmm.NonbondedForce.NoCutoff:
        raise UnsupportedSystemError(
            "NonbondedForce must use NoCutoff for MM/GBSA (got method "
            f"{force.getNonbondedMethod()}); build the System with nonbondedMethod=NoCutoff"
        )
    if force.getNumGlobalParameters() or force.getNumParticleParameterOffsets():
        raise UnsupportedSystemError("NonbondedForce global parameters/offsets are not supported")
    n = force.getNumParticles()
    q, s, e = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        qi, si, ei = force.getParticleParameters(i)
        q[i] = qi.value_in_unit(openmm.unit.elementary_charge)
        s[i] = si.value_in_unit(openmm.unit.nanometer)
        e[i] = ei.value_in_unit(openmm.unit.kilojoule_per_mole)
    m = force.getNumExceptions()
    atoms = np.zeros((m, 2), dtype=np.int64)
    qq, es, ee = np.zeros(m), np.zeros(m), np.zeros(m)
    for k in range(m):
        i, j, qqk, sk, ek = force.getExceptionParameters(k)
        atoms[k] = (i, j)
        qq[k] = qqk.value_in_unit(openmm.unit.elementary_charge**2)
        es[k] = sk.value_in_unit(openmm.unit.nanometer)
        ee[k] = ek.value_in_unit(openmm.unit.kilojoule_per_mole)
    return {
        "charge": q,
        "sigma": s,
        "epsilon": e,
        "exception_atoms": atoms,
        "exception_charge_product": qq,
        "exception_sigma": es,
        "exception_epsilon": ee,
    }


def _bonded(forces: dict[str, openmm.Force]) -> dict[str, np.ndarray]:
    nm, kj, rad = openmm.unit.nanometer, openmm.unit.kilojoule_per_mole, openmm.unit.radian
    out: dict[str, np.ndarray] = {}
    f = forces.get("HarmonicBondForce")
    rows = [f.getBondParameters(i) for i in range(f.getNumBonds())] if f else []
    out["bond_atoms"] = np.array([(r[0], r[1]) for r in rows], dtype=np.int64).reshape(-1, 2)
    out["bond_length"] = np.array([r[2].value_in_unit(nm) for r in rows], dtype=float)
    out["bond_k"] = np.array([r[3].value_in_unit(kj / nm**2) for r in rows], dtype=float)
    f = forces.get("HarmonicAngleForce")
    rows = [f.getAngleParameters(i) for i in range(f.getNumAngles())] if f else []
    out["angle_atoms"] = np.array([r[:3] for r in rows], dtype=np.int64).reshape(-1, 3)
    out["angle_theta0"] = np.array([r[3].value_in_unit(rad) for r in rows], dtype=float)
    out["angle_k"] = np.array([r[4].value_in_unit(kj / rad**2) for r in rows], dtype=float)
    f = forces.get("PeriodicTorsionForce")
    rows = [f.getTorsionParameters(i) for i in range(f.getNumTorsions())] if f else []
    out["torsion_atoms"] = np.array([r[:4] for r in rows], dtype=np.int64).reshape(-1, 4)
    out["torsion_periodicity"] = np.array([r[4] for r in rows], dtype=float)
    out["torsion_phase"] = np.array([r[5].value_in_unit(rad) for r in rows], dtype=float)
    out["torsion_k"] = np.array([r[6].value_in_unit(kj) for r in rows], dtype=float)
    for name in ("HarmonicBondForce", "HarmonicAngleForce", "PeriodicTorsionForce"):
        if name in forces and forces[name].usesPeriodicBoundaryConditions():
            raise UnsupportedSystemError(f"{name} uses periodic boundary conditions")
    return out


def _cmap(force: openmm.CMAPTorsionForce | None) -> CMAPParameters | None:
    if force is None or force.getNumTorsions() == 0:
        return None
    maps = []
    for m in range(force.getNumMaps()):
        size, energy = force.getMapParameters(m)
        values = np.array(energy.value_in_unit(openmm.unit.kilojoule_per_mole), dtype=float)
        # OpenMM stores energy[i + size*j] for φ index i, ψ index j
        maps.append(values.reshape(size, size).T)
    if len({m.shape for m in maps}) != 1:
        raise UnsupportedSystemError("CMAP maps of different sizes are not supported")
    rows = [force.getTorsionParameters(i) for i in range(force.getNumTorsions())]
    return CMAPParameters(
        maps=np.array(maps),
        map_index=np.array([r[0] for r in rows], dtype=np.int64),
        atoms=np.array([r[1:9] for r in rows], dtype=np.int64),
    )


# OpenMM's CustomGBForce expressions (openmm.app.internal.customgbforces), with whitespace
# removed and constant definitions ("name=number") stripped. The JAX kernels implement these.
_I_OBC = (
    "select(step(r+sr2-or1),0.5*(1/L-1/U+0.25*(r-sr2^2/r)*(1/(U^2)-1/(L^2))+0.5*log(L/U)/r),0);"
    "U=r+sr2;L=max(or1,D);D=abs(r-sr2)"
)
_I_NECK = (
    "Ivdw+neckScale*Ineck;"
    "Ineck=step(radius1+radius2+neckCut-r)*getm0(radindex1,radindex2)/(1+100*(r-getd0(radindex1,"
    "radindex2))^2+0.3*1000000*(r-getd0(radindex1,radindex2))^6);"
    "Ivdw=select(step(r+sr2-or1),0.5*(1/L-1/U+0.25*(r-sr2^2/r)*(1/(U^2)-1/(L^2))+0.5*log(L/U)/r),0);"
    "U=r+sr2;L=max(or1,D);D=abs(r-sr2);radius1=or1+offset;radius2=or2+offset"
)
_B_TEMPLATES = {
    "1/(1/or-tanh(0.8*psi+2.909125*psi^3)/radius);psi=I*or;radius=or+offset": (
        "OBC1",
        0.8,
        0.0,
        2.909125,
    ),
    "1/(1/or-tanh(psi-0.8*psi^2+4.85*psi^3)/radius);psi=I*or;radius=or+offset": (
        "OBC2",
        1.0,
        0.8,
        4.85,
    ),
    "1/(1/or-tanh(1.09511284*psi-1.907992938*psi^2+2.50798245*psi^3)/radius);psi=I*or;radius=or+offset": (
        "GBn",
        1.09511284,
        1.907992938,
        2.50798245,
    ),
    "1/(1/or-tanh(alpha*psi-beta*psi^2+gamma*psi^3)/radius);psi=I*or;radius=or+offset": (
        "GBn2",
        None,
        None,
        None,
    ),
}
_SELF = {
    "-0.5*138.935485*(1/soluteDielectric-1/solventDielectric)*charge^2/B": False,
    "-0.5*138.935485*(1/soluteDielectric-exp(-kappa*B)/solventDielectric)*charge^2/B": True,
}
_PAIR = {
    "-138.935485*(1/soluteDielectric-1/solventDielectric)*charge1*charge2/f;f=sqrt(r^2+B1*B2*exp(-r^2/(4*B1*B2)))": False,
    "-138.935485*(1/soluteDielectric-exp(-kappa*f)/solventDielectric)*charge1*charge2/f;f=sqrt(r^2+B1*B2*exp(-r^2/(4*B1*B2)))": True,
}
_ACE = "28.3919551*(radius+0.14)^2*(radius/B)^6;radius=or+offset"
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _split(expression: str) -> tuple[str, dict[str, float]]:
    """Expression without whitespace and constant definitions, plus the constants."""
    parts = [p for p in re.sub(r"\s+", "", expression).split(";") if p]
    kept, constants = [parts[0]], {}
    for part in parts[1:]:
        name, _, value = part.partition("=")
        if _NUMBER.match(value):
            constants[name] = float(value)
        else:
            kept.append(part)
    return ";".join(kept), constants


def _gb(force: openmm.CustomGBForce, n_atoms: int) -> GBParameters:
    P = openmm.CustomGBForce
    if force.getNonbondedMethod() != P.NoCutoff:
        raise UnsupportedSystemError("CustomGBForce must use NoCutoff for MM/GBSA")
    if force.getNumExclusions():
        raise UnsupportedSystemError("CustomGBForce exclusions are not supported")
    where = "CustomGBForce"
    values = [force.getComputedValueParameters(i) for i in range(force.getNumComputedValues())]
    if [(v[0], v[2]) for v in values] != [
        ("I", P.ParticlePairNoExclusions),
        ("B", P.SingleParticle),
    ]:
        raise UnsupportedSystemError(
            f"{where}: computed values {[v[0] for v in values]} are not OpenMM's Amber GB (I, B)"
        )
    consts: dict[str, float] = {}
    i_expr, c = _split(values[0][1])
    consts.update(c)
    if i_expr not in (_I_OBC, _I_NECK):
        raise UnsupportedSystemError(f"{where}: unrecognised I expression {values[0][1]!r}")
    neck = i_expr == _I_NECK
    b_expr, c = _split(values[1][1])
    consts.update(c)
    if b_expr not in _B_TEMPLATES:
        raise UnsupportedSystemError(f"{where}: unrecognised B expression {values[1][1]!r}")
    model, a0, b0, g0 = _B_TEMPLATES[b_expr]
    if neck != (model in ("GBn", "GBn2")):
        raise UnsupportedSystemError(f"{where}: neck integral and B expression do not match")
    self_kappa = pair_kappa = None
    ace = False
    for k in range(force.getNumEnergyTerms()):
        raw, kind = force.getEnergyTermParameters(k)
        expr, c = _split(raw)
        if "cutoff" in c:
            raise UnsupportedSystemError(f"{where}: GB with a cutoff is not the MM/GBSA setting")
        consts.update({key: v for key, v in c.items() if key != "offset"})
        if kind == P.SingleParticle and expr in _SELF:
            self_kappa = _SELF[expr]
        elif kind == P.SingleParticle and expr == _ACE:
            ace = True
            if c.get("offset") != consts.get("offset"):
                raise UnsupportedSystemError(f"{where}: ACE offset differs from B offset")
        elif kind == P.ParticlePairNoExclusions and expr in _PAIR:
            pair_kappa = _PAIR[expr]
        else:
            raise UnsupportedSystemError(f"{where}: unrecognised energy term {raw!r}")
    if self_kappa is None or pair_kappa is None:
        raise UnsupportedSystemError(f"{where}: missing the GB self or pair energy term")
    names = [
        force.getPerParticleParameterName(i) for i in range(force.getNumPerParticleParameters())
    ]
    if force.getNumParticles() != n_atoms:
        raise UnsupportedSystemError(
            f"{where}: {force.getNumParticles()} particles, System has {n_atoms}"
        )
    table = np.array([force.getParticleParameters(i) for i in range(n_atoms)], dtype=float).reshape(
        n_atoms, -1
    )

    def column(name: str) -> np.ndarray:
        if name not in names:
            raise UnsupportedSystemError(f"{where}: no per-particle parameter '{name}'")
        return table[:, names.index(name)].copy()

    if model == "GBn2":
        alpha, beta, gamma = column("alpha"), column("beta"), column("gamma")
    else:
        alpha, beta, gamma = (np.full(n_atoms, v) for v in (a0, b0, g0))
    d0 = m0 = np.zeros((1, 1))
    radius_index = np.zeros(n_atoms, dtype=np.int64)
    if neck:
        radius_index = np.rint(column("radindex")).astype(np.int64)
        tables = {}
        for t in range(force.getNumTabulatedFunctions()):
            fn = force.getTabulatedFunction(t)
            xsize, ysize, vals = fn.getFunctionParameters()
            # Discrete2DFunction: f(x, y) = values[x + xsize*y]
            tables[force.getTabulatedFunctionName(t)] = (
                np.array(vals, dtype=float).reshape(ysize, xsize).T
            )
        if set(tables) != {"getd0", "getm0"}:
            raise UnsupportedSystemError(
                f"{where}: tabulated functions {sorted(tables)}, expected getd0/getm0"
            )
        d0, m0 = tables["getd0"], tables["getm0"]
        if radius_index.max() >= d0.shape[0]:
            raise UnsupportedSystemError(f"{where}: radindex beyond the neck table")
    required = ["offset", "solventDielectric", "soluteDielectric", "kappa"] + (
        ["neckScale", "neckCut"] if neck else []
    )
    missing = [k for k in required if k not in consts]
    if missing:
        raise UnsupportedSystemError(f"{where}: constants {missing} not found in the expressions")
    return GBParameters(
        model=model,
        charge=column("charge"),
        offset_radius=column("or"),
        scaled_radius=column("sr"),
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        offset=consts["offset"],
        solute_dielectric=consts["soluteDielectric"],
        solvent_dielectric=consts["solventDielectric"],
        kappa=consts["kappa"],
        prefactor=138.935485,
        ace=ace,
        ace_constant=28.3919551,
        ace_probe=0.14,
        neck=neck,
        neck_scale=consts.get("neckScale", 0.0),
        neck_cut=consts.get("neckCut", 0.0),
        radius_index=radius_index,
        d0=d0,
        m0=m0,
    )


def extract_parameters(system: openmm.System) -> EnergyParameters:
    """All energy parameters of ``system`` (see the module docstring for what is supported)."""
    forces = _forces_by_type(system)
    n = system.getNumParticles()
    nb = _nonbonded(forces["NonbondedForce"])
    gb = forces.get("CustomGBForce")
    return EnergyParameters(
        n_atoms=n,
        **nb,
        **_bonded(forces),
        cmap=_cmap(forces.get("CMAPTorsionForce")),
        gb=_gb(gb, n) if gb is not None else None,
    )


def subsystem(
    system: openmm.System, atoms: np.ndarray | list[int], cut: bool = False
) -> openmm.System:
    """A System of the given atoms only (in the given order), with every term whose atoms
    all lie inside the subset. Raises if a bonded term or a NonbondedForce exception links
    the subset to the rest (the split would cut a molecule), unless ``cut`` (interface
    trimming: terms reaching outside the subset are dropped)."""
    atoms = [int(a) for a in atoms]
    index = {a: k for k, a in enumerate(atoms)}
    if len(index) != len(atoms):
        raise RankbindError("subsystem atoms contain duplicates")
    forces = _forces_by_type(system)
    out = openmm.System()
    for a in atoms:
        out.addParticle(system.getParticleMass(a))

    def mapped(ids, what):
        inside = [i in index for i in ids]
        if all(inside):
            return [index[i] for i in ids]
        if any(inside) and not cut:
            raise RankbindError(
                f"the receptor/ligand split cuts a {what} between atoms {list(ids)}: "
                "receptor and ligand must be whole molecules"
            )
        return None

    for name, force in forces.items():
        if name == "CMMotionRemover":
            continue
        if name == "HarmonicBondForce":
            new = openmm.HarmonicBondForce()
            for i in range(force.getNumBonds()):
                p = force.getBondParameters(i)
                ids = mapped(p[:2], "bond")
                if ids is not None:
                    new.addBond(*ids, *p[2:])
        elif name == "HarmonicAngleForce":
            new = openmm.HarmonicAngleForce()
            for i in range(force.getNumAngles()):
                p = force.getAngleParameters(i)
                ids = mapped(p[:3], "angle")
                if ids is not None:
                    new.addAngle(*ids, *p[3:])
        elif name == "PeriodicTorsionForce":
            new = openmm.PeriodicTorsionForce()
            for i in range(force.getNumTorsions()):
                p = force.getTorsionParameters(i)
                ids = mapped(p[:4], "torsion")
                if ids is not None:
                    new.addTorsion(*ids, *p[4:])
        elif name == "CMAPTorsionForce":
            new = openmm.CMAPTorsionForce()
            for m in range(force.getNumMaps()):
                new.addMap(*force.getMapParameters(m))
            for i in range(force.getNumTorsions()):
                p = force.getTorsionParameters(i)
                ids = mapped(p[1:9], "CMAP torsion")
                if ids is not None:
                    new.addTorsion(p[0], *ids)
        elif name == "NonbondedForce":
            new = openmm.NonbondedForce()
            new.setNonbondedMethod(force.getNonbondedMethod())
            new.setReactionFieldDielectric(force.getReactionFieldDielectric())
            new.setUseDispersionCorrection(force.getUseDispersionCorrection())
            for a in atoms:
                new.addParticle(*force.getParticleParameters(a))
            for i in range(force.getNumExceptions()):
                p = force.getExceptionParameters(i)
                ids = mapped(p[:2], "nonbonded exception (bonded pair)")
                if ids is not None:
                    new.addException(*ids, *p[2:])
        else:  # CustomGBForce: same expressions, tables and per-particle parameters
            new = copy_custom_gb(force, atoms)
        new.setForceGroup(force.getForceGroup())
        out.addForce(new)
    return out


def copy_custom_gb(
    force: openmm.CustomGBForce,
    atoms: list[int] | None = None,
    keep_term=lambda expression: True,
) -> openmm.CustomGBForce:
    """A copy of a CustomGBForce restricted to ``atoms`` (all by default) and to the energy
    terms whose expression satisfies ``keep_term``."""
    new = openmm.CustomGBForce()
    new.setNonbondedMethod(force.getNonbondedMethod())
    new.setCutoffDistance(force.getCutoffDistance())
    for i in range(force.getNumGlobalParameters()):
        new.addGlobalParameter(
            force.getGlobalParameterName(i), force.getGlobalParameterDefaultValue(i)
        )
    for i in range(force.getNumPerParticleParameters()):
        new.addPerParticleParameter(force.getPerParticleParameterName(i))
    for i in range(force.getNumTabulatedFunctions()):
        xs, ys, vals = force.getTabulatedFunction(i).getFunctionParameters()
        new.addTabulatedFunction(
            force.getTabulatedFunctionName(i), openmm.Discrete2DFunction(xs, ys, vals)
        )
    for i in range(force.getNumComputedValues()):
        new.addComputedValue(*force.getComputedValueParameters(i))
    for i in range(force.getNumEnergyTerms()):
        expression, kind = force.getEnergyTermParameters(i)
        if keep_term(expression):
            new.addEnergyTerm(expression, kind)
    for a in range(force.getNumParticles()) if atoms is None else atoms:
        new.addParticle(force.getParticleParameters(a))
    new.setForceGroup(force.getForceGroup())
    return new


def is_ace_term(expression: str) -> bool:
    """True for the ACE nonpolar energy term of OpenMM's Amber GB forces."""
    return _split(expression)[0] == _ACE
