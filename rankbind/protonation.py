"""Protonation fit for scoring: PROPKA pKa states, Asn/Gln/His flips, audit, implicit relax.

Part of preparation (clean → complete → **protonate** → relax → parameterise), kept in its
own module so :mod:`rankbind.preparation` stays a short pipeline.

* :func:`plan_protonation` runs PDB2PQR 3 (``pdb2pqr.main.run_pdb2pqr``: PROPKA 3 pKa
  values at the chosen pH, then PDB2PQR's hydrogen-bond network optimiser, which flips
  Asn/Gln amides and His rings and picks His tautomers) on the heavy atoms and records,
  per titratable or flippable residue, the pKa, the chosen state (Amber names ASP/ASH,
  GLU/GLH, HID/HIE/HIP, LYS/LYN, CYS/CYX) and whether the side chain was flipped.
* :func:`apply_plan` applies the plan: a flip is the exchange of the positions of OD1/ND2
  (Asn), OE1/NE2 (Gln) or ND1↔CD2 and CE1↔NE2 (His), the convention Reduce uses; the states
  go to :meth:`openmm.app.Modeller.addHydrogens` as its ``variants``.
* :func:`audit` flags, per residue, heavy-atom clashes, polar H–H contacts (< 0.16 nm) and
  buried polar hydrogens with no acceptor (unsatisfied buried donors).
* :func:`relax_implicit` minimises in OBC2 implicit solvent with heavy atoms restrained
  harmonically to their starting positions (not in vacuum).

Distances nm, energies kJ/mol.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import openmm
from openmm import app, unit

from rankbind.errors import PreparationError

FLIP_PAIRS = {
    "ASN": (("OD1", "ND2"),),
    "GLN": (("OE1", "NE2"),),
    "HIS": (("ND1", "CD2"), ("CE1", "NE2")),
}
# PDB2PQR Amber output names -> (residue, Modeller variant)
STATE_NAMES = {
    "ASP": ("ASP", "ASP"),
    "ASH": ("ASP", "ASH"),
    "GLU": ("GLU", "GLU"),
    "GLH": ("GLU", "GLH"),
    "HID": ("HIS", "HID"),
    "HIE": ("HIS", "HIE"),
    "HIP": ("HIS", "HIP"),
    "LYS": ("LYS", "LYS"),
    "LYN": ("LYS", "LYN"),
    "CYS": ("CYS", "CYS"),
    "CYX": ("CYS", "CYX"),
    "CYM": ("CYS", "CYX"),  # deprotonated Cys: Modeller has no CYM; no H on SG either way
}
PROTONATION_METHODS = ("template", "propka")
POLAR = {"N", "O", "S"}
POLAR_HH_NM = 0.16
CLASH_OVERLAP_NM = 0.04  # MolProbity: serious clash at >= 0.4 Å vdW overlap
VDW_NM = {"H": 0.11, "C": 0.17, "N": 0.155, "O": 0.152, "S": 0.18}


@dataclass
class ResidueChoice:
    """One residue's protonation decision. ``key`` = (chain id, residue id, insertion)."""

    chain: str
    residue: str
    insertion: str
    name: str  # residue name in the input
    state: str  # Amber variant applied (HIE, ASH, ...), or the name when not titratable
    flipped: bool
    pka: float | None = None
    model_pka: float | None = None
    buried: float | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.chain, self.residue, self.insertion)

    @property
    def label(self) -> str:
        return f"{self.name}{self.residue}{self.insertion.strip()}/{self.chain}"


@dataclass
class ProtonationPlan:
    """Every choice, per residue, with the method and pH that made it."""

    ph: float
    choices: list[ResidueChoice] = field(default_factory=list)
    method: str = "PDB2PQR 3 (PROPKA 3 pKa, hydrogen-bond network optimisation, Amber names)"

    def by_key(self) -> dict[tuple[str, str, str], ResidueChoice]:
        return {c.key: c for c in self.choices}

    def as_dict(self) -> dict:
        from importlib.metadata import version

        return {
            "method": self.method,
            "ph": self.ph,
            "versions": {"pdb2pqr": version("pdb2pqr"), "propka": version("propka")},
            "flip_convention": "position exchange OD1<->ND2, OE1<->NE2, ND1<->CD2 + CE1<->NE2",
            "residues": [asdict(c) | {"label": c.label} for c in self.choices],
            "n_flipped": sum(c.flipped for c in self.choices),
        }


def _key(residue: app.Residue) -> tuple[str, str, str]:
    return (residue.chain.id, str(residue.id).strip(), (residue.insertionCode or " ").strip())


def _heavy_pdb(topology: app.Topology, positions, chain_ids: list[str]) -> str:
    """Heavy atoms as PDB text, chains renamed to ``chain_ids`` (one per chain)."""
    modeller = app.Modeller(topology, positions)
    modeller.delete(
        [a for a in topology.atoms() if a.element is not None and a.element.symbol == "H"]
    )
    for chain, new in zip(modeller.topology.chains(), chain_ids, strict=True):
        chain.id = new
    out = io.StringIO()
    app.PDBFile.writeFile(modeller.topology, modeller.positions, out, keepIds=True)
    return out.getvalue()


def plan_protonation(topology: app.Topology, positions, ph: float = 7.0) -> ProtonationPlan:
    """PROPKA + PDB2PQR choices for ``topology`` (hydrogens, if any, are ignored). Residues
    are matched by chain id, residue number and insertion code, which must be unique; a
    chain split in pieces with one id (e.g. at a gap) is passed to PDB2PQR under
    temporary one-letter ids and mapped back."""
    import logging

    from pdb2pqr.main import run_pdb2pqr

    if not 0.0 <= ph <= 14.0:
        raise PreparationError(f"protonation pH {ph} outside 0-14")
    ids = [c.id for c in topology.chains()]
    keys = [_key(r) for r in topology.residues()]
    if len(set(keys)) != len(keys):
        raise PreparationError(f"residues repeat (chain id, number, insertion code): {ids}")
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    if len(set(ids)) == len(ids) and all(len(i) == 1 for i in ids):
        temporary = ids
    elif len(ids) <= len(letters):
        temporary = list(letters[: len(ids)])
    else:
        raise PreparationError(f"PDB2PQR: more than {len(letters)} chains ({len(ids)})")
    temp_of = {c.index: temporary[c.index] for c in topology.chains()}
    with tempfile.TemporaryDirectory(prefix="rankbind-pdb2pqr-") as tmp:
        src, pqr, pdb = Path(tmp, "in.pdb"), Path(tmp, "out.pqr"), Path(tmp, "out.pdb")
        src.write_text(_heavy_pdb(topology, positions, temporary))
        quiet = logging.getLogger("pdb2pqr"), logging.getLogger("propka")
        levels = [q.level for q in quiet]
        for q in quiet:
            q.setLevel(logging.ERROR)
        try:
            _, pka_rows, _ = run_pdb2pqr(
                [
                    "--ff=AMBER",
                    "--ffout=AMBER",
                    "--titration-state-method=propka",
                    f"--with-ph={ph}",
                    "--keep-chain",
                    "--log-level=ERROR",
                    f"--pdb-output={pdb}",
                    str(src),
                    str(pqr),
                ]
            )
        except (RuntimeError, ValueError, KeyError) as exc:
            raise PreparationError(f"PDB2PQR/PROPKA failed: {exc}") from exc
        finally:
            for q, level in zip(quiet, levels, strict=True):
                q.setLevel(level)
        out_atoms = _read_pdb_atoms(pdb.read_text())
    pka = {}
    for row in pka_rows or []:
        k = (row["chain_id"], str(row["res_num"]), (row["ins_code"] or " ").strip())
        if row["res_name"] in ("ASP", "GLU", "HIS", "LYS", "CYS", "TYR", "ARG"):
            pka[k] = row
    x = np.asarray(
        positions.value_in_unit(unit.nanometer) if unit.is_quantity(positions) else positions
    )
    plan = ProtonationPlan(ph=float(ph))
    bridged = {
        a.residue
        for bond in topology.bonds()
        for a in bond
        if bond[0].name == bond[1].name == "SG" and bond[0].residue is not bond[1].residue
    }
    for residue in topology.residues():
        key = _key(residue)
        if residue.name not in FLIP_PAIRS and residue.name not in {"ASP", "GLU", "LYS", "CYS"}:
            continue
        temp_key = (temp_of[residue.chain.index], *key[1:])
        out = out_atoms.get(temp_key)
        if out is None:
            raise PreparationError(f"PDB2PQR output lacks residue {residue.name}{key[1]}/{key[0]}")
        out_name, out_xyz = out
        state = STATE_NAMES.get(out_name, (residue.name, residue.name))[1]
        if residue.name == "CYS" and residue in bridged:
            state = "CYX"  # the topology's disulfide decides (PDB2PQR may miss long ones)
        flipped = False
        if residue.name in FLIP_PAIRS:
            atoms = {a.name: x[a.index] for a in residue.atoms()}
            a, b = FLIP_PAIRS[residue.name][0]
            if a in atoms and b in atoms and a in out_xyz:
                flipped = bool(
                    np.linalg.norm(out_xyz[a] - atoms[b]) < np.linalg.norm(out_xyz[a] - atoms[a])
                )
        row = pka.get(temp_key)
        plan.choices.append(
            ResidueChoice(
                chain=key[0],
                residue=key[1],
                insertion=key[2],
                name=residue.name,
                state=state,
                flipped=flipped,
                pka=None if row is None else float(row["pKa"]),
                model_pka=None if row is None else float(row["model_pKa"]),
                buried=None if row is None else float(row["buried"]),
            )
        )
    return plan


def _read_pdb_atoms(text: str) -> dict[tuple[str, str, str], tuple[str, dict[str, np.ndarray]]]:
    """{(chain, resnum, icode): (resname, {atom: xyz nm})} from PDB2PQR's PDB output."""
    out: dict = {}
    for line in text.splitlines():
        if not line.startswith(("ATOM", "HETATM")):
            continue
        key = (line[21].strip(), line[22:26].strip(), line[26].strip())
        name = line[12:16].strip()
        xyz = np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])]) / 10.0
        entry = out.setdefault(key, (line[17:20].strip(), {}))
        entry[1][name] = xyz
    return out


def apply_plan(
    topology: app.Topology, positions, plan: ProtonationPlan
) -> tuple[unit.Quantity, list]:
    """(positions with the recorded flips applied, Modeller ``variants`` list).

    ``topology`` must hold the heavy atoms the plan was made on (hydrogens may be absent)."""
    x = np.array(
        positions.value_in_unit(unit.nanometer) if unit.is_quantity(positions) else positions,
        dtype=float,
    )
    choices = plan.by_key()
    variants: list = []
    for residue in topology.residues():
        choice = choices.get(_key(residue))
        if choice is None or choice.name != residue.name:
            variants.append(None)
            continue
        if choice.flipped:
            atoms = {a.name: a.index for a in residue.atoms()}
            for a, b in FLIP_PAIRS[residue.name]:
                if a not in atoms or b not in atoms:
                    raise PreparationError(f"{choice.label}: cannot flip, {a}/{b} missing")
                x[[atoms[a], atoms[b]]] = x[[atoms[b], atoms[a]]]
            hydrogens = [
                a for a in residue.atoms() if a.element is not None and a.element.symbol == "H"
            ]
            if hydrogens:
                raise PreparationError(f"{choice.label}: flip before hydrogens are added")
        variants.append(
            choice.state if choice.state in {v for _, v in STATE_NAMES.values()} else None
        )
    return unit.Quantity([openmm.Vec3(*p) for p in x], unit.nanometer), variants


def applied_states(topology: app.Topology) -> dict[tuple[str, str, str], str]:
    """The variant each titratable residue carries, read from its hydrogens (independent
    of the plan): HID/HIE/HIP, ASH/ASP, GLH/GLU, LYN/LYS, CYS/CYX."""
    out = {}
    for residue in topology.residues():
        names = {a.name for a in residue.atoms()}
        name = residue.name
        if name == "HIS":
            d, e = "HD1" in names, "HE2" in names
            out[_key(residue)] = {(True, True): "HIP", (True, False): "HID"}.get(
                (d, e), "HIE" if e else "HIN"
            )
        elif name == "ASP":
            out[_key(residue)] = "ASH" if names & {"HD1", "HD2"} else "ASP"
        elif name == "GLU":
            out[_key(residue)] = "GLH" if names & {"HE1", "HE2"} else "GLU"
        elif name == "LYS":
            out[_key(residue)] = "LYS" if "HZ3" in names else "LYN"
        elif name == "CYS":
            out[_key(residue)] = "CYS" if "HG" in names else "CYX"
    return out


# ---------------------------------------------------------------------------------------
# audit


def _bond_graph(topology: app.Topology) -> list[set[int]]:
    graph: list[set[int]] = [set() for _ in range(topology.getNumAtoms())]
    for a, b in topology.bonds():
        graph[a.index].add(b.index)
        graph[b.index].add(a.index)
    return graph


def _within_three_bonds(graph, i: int) -> set[int]:
    near, frontier = {i}, {i}
    for _ in range(3):
        frontier = {n for f in frontier for n in graph[f]} - near
        near |= frontier
    return near


def _label(atom: app.Atom) -> str:
    r = atom.residue
    return f"{r.name}{r.id}{(r.insertionCode or '').strip()}/{r.chain.id}:{atom.name}"


def audit(topology: app.Topology, positions, buried_sasa_nm2: float = 0.01) -> dict:
    """Clashes, polar H–H contacts and unsatisfied buried donors, each with residue ids.

    * clash: atoms more than 3 bonds apart whose vdW spheres (Bondi-like radii
      :data:`VDW_NM`) overlap by ≥ 0.04 nm (0.4 Å, MolProbity's "serious" clash); H-bonded
      donor-H…acceptor pairs are exempt;
    * polar H–H: two hydrogens bonded to N/O/S, in different residues or > 3 bonds apart,
      closer than 0.16 nm;
    * unsatisfied buried donor: a polar hydrogen whose donor + hydrogens have SASA below
      ``buried_sasa_nm2`` (mdtraj Shrake-Rupley, probe 0.14 nm) and no N/O acceptor within
      0.26 nm of the H with a D–H…A angle above 120°.
    """
    import mdtraj
    from scipy.spatial import cKDTree

    x = np.asarray(
        positions.value_in_unit(unit.nanometer) if unit.is_quantity(positions) else positions,
        dtype=float,
    )
    atoms = list(topology.atoms())
    element = [a.element.symbol if a.element is not None else "X" for a in atoms]
    graph = _bond_graph(topology)
    polar_h = np.array(
        [
            element[i] == "H" and any(element[j] in POLAR for j in graph[i])
            for i in range(len(atoms))
        ]
    )
    acceptor = np.array([e in ("N", "O") for e in element])
    tree = cKDTree(x)
    clashes, hh = [], []
    pairs = tree.query_pairs(0.32, output_type="ndarray")
    d = np.linalg.norm(x[pairs[:, 0]] - x[pairs[:, 1]], axis=1)
    radius = np.array([VDW_NM.get(e, 0.17) for e in element])
    overlap = radius[pairs[:, 0]] + radius[pairs[:, 1]] - d
    hh_candidate = polar_h[pairs[:, 0]] & polar_h[pairs[:, 1]] & (d < POLAR_HH_NM)
    keep = hh_candidate | (overlap >= CLASH_OVERLAP_NM)
    for (i, j), dist, over, is_hh in zip(
        pairs[keep], d[keep], overlap[keep], hh_candidate[keep], strict=True
    ):
        i, j = int(i), int(j)
        bonded = j in _within_three_bonds(graph, i)
        if is_hh and (atoms[i].residue is not atoms[j].residue or not bonded):
            hh.append(
                {
                    "atoms": [_label(atoms[i]), _label(atoms[j])],
                    "distance_nm": round(float(dist), 4),
                }
            )
            continue
        if bonded:
            continue
        hbond = (
            (polar_h[i] and acceptor[j])
            or (polar_h[j] and acceptor[i])
            or (acceptor[i] and acceptor[j] and element[i] + element[j] != "NN")
        )
        if not hbond:
            clashes.append(
                {
                    "atoms": [_label(atoms[i]), _label(atoms[j])],
                    "distance_nm": round(float(dist), 4),
                    "overlap_nm": round(float(over), 4),
                }
            )
    top = mdtraj.Topology.from_openmm(topology)
    sasa = mdtraj.shrake_rupley(mdtraj.Trajectory(x[None], top), mode="atom")[0]
    unsatisfied = []
    for h in np.flatnonzero(polar_h):
        donor = next(iter(graph[h]))
        group = [donor] + [k for k in graph[donor] if element[k] == "H"]
        if float(sasa[group].sum()) >= buried_sasa_nm2:
            continue
        ok = False
        for a in tree.query_ball_point(x[h], 0.26):
            if not acceptor[a] or a == donor:
                continue
            u, v = x[donor] - x[h], x[a] - x[h]
            cos = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))
            if cos < np.cos(np.radians(120)):
                ok = True
                break
        if not ok:
            unsatisfied.append({"hydrogen": _label(atoms[h]), "donor": _label(atoms[donor])})

    def residues(items: list[dict], key: str) -> set[str]:
        out = set()
        for item in items:
            labels = item[key] if isinstance(item[key], list) else [item[key]]
            out.update(label.split(":")[0] for label in labels)
        return out

    return {
        "criteria": {
            "clash_overlap_nm": CLASH_OVERLAP_NM,
            "vdw_radii_nm": VDW_NM,
            "polar_hh_nm": POLAR_HH_NM,
            "buried_sasa_nm2": buried_sasa_nm2,
            "hbond": "H...A <= 0.26 nm, D-H...A > 120 deg",
        },
        "clashes": clashes,
        "polar_hh_contacts": hh,
        "unsatisfied_buried_donors": unsatisfied,
        "flagged_residues": sorted(
            residues(clashes + hh, "atoms") | residues(unsatisfied, "donor")
        ),
    }


# ---------------------------------------------------------------------------------------
# relaxation


def relax_implicit(
    topology: app.Topology,
    positions,
    forcefield: str = "amber14-all.xml",
    restraint_k: float = 1000.0,
    max_iterations: int = 200,
    tolerance: float = 10.0,
    platform: openmm.Platform | None = None,
) -> tuple[unit.Quantity, dict]:
    """Minimise in OBC2 implicit solvent (OpenMM's GBSAOBCForce, ``implicit/obc2.xml``),
    heavy atoms held by ``restraint_k`` kJ/mol/nm² harmonic restraints to their input
    positions. Returns (positions, record: energies before/after, heavy-atom RMSD nm)."""
    from rankbind.platforms import cpu_platform

    ff = app.ForceField(forcefield, "implicit/obc2.xml")
    try:
        system = ff.createSystem(topology, nonbondedMethod=app.NoCutoff, constraints=None)
    except ValueError as exc:
        raise PreparationError(f"implicit-solvent relaxation: cannot parametrise: {exc}") from exc
    x0 = np.array(
        positions.value_in_unit(unit.nanometer) if unit.is_quantity(positions) else positions,
        dtype=float,
    )
    restraint = openmm.CustomExternalForce("0.5*k*((x-x0)^2+(y-y0)^2+(z-z0)^2)")
    restraint.addGlobalParameter("k", restraint_k)
    for name in ("x0", "y0", "z0"):
        restraint.addPerParticleParameter(name)
    heavy = [a.index for a in topology.atoms() if a.element is not None and a.element.symbol != "H"]
    for i in heavy:
        restraint.addParticle(i, x0[i].tolist())
    system.addForce(restraint)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), platform or cpu_platform())
    context.setPositions(x0)
    before = (
        context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    )
    openmm.LocalEnergyMinimizer.minimize(context, tolerance, max_iterations)
    state = context.getState(getEnergy=True, getPositions=True)
    x = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    record = {
        "method": "L-BFGS minimisation, OBC2 implicit solvent (GBSAOBCForce), NoCutoff",
        "forcefield": [forcefield, "implicit/obc2.xml"],
        "heavy_atom_restraint_k_kJ_per_mol_nm2": restraint_k,
        "max_iterations": max_iterations,
        "tolerance_kJ_per_mol_nm": tolerance,
        "energy_before_kJ_per_mol": float(before),
        "energy_after_kJ_per_mol": float(
            state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        ),
        "heavy_atom_rmsd_nm": float(np.sqrt(np.mean(np.sum((x[heavy] - x0[heavy]) ** 2, axis=1)))),
    }
    return unit.Quantity(np.asarray(x), unit.nanometer), record
