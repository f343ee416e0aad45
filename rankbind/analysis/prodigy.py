"""Contact-based binding affinity: the PRODIGY IC-NIS model.

Model (Vangone & Bonvin, "Contacts-based prediction of binding affinity in protein–protein
complexes", eLife 2015;4:e07454, doi:10.7554/eLife.07454), coefficients as implemented in
the reference code haddocking/prodigy, ``src/prodigy_prot/modules/models.py``
(``IC_NIS``)::

    ΔG (kcal/mol) = -0.09459 IC_charged/charged - 0.10007 IC_charged/apolar
                    + 0.19577 IC_polar/polar - 0.22671 IC_polar/apolar
                    + 0.18681 %NIS_apolar + 0.13810 %NIS_charged - 15.9433

    Kd (M) = exp(ΔG / RT), R = 0.0019858775 kcal/(mol K), T = 298.15 K (25 °C)

(``dg_to_kd`` in ``modules/utils.py``). Definitions follow the same code:

* Interfacial contacts (ICs): residue pairs from different groups with any two heavy
  atoms within 5.5 Å, classified by ``aa_character_ic`` (charged C: D E H K R; polar P:
  N Q S T; apolar A: A C G F I L M P W V Y).
* %NIS: residues of the complex with relative SASA >= 0.05 (residue SASA / NACCESS
  ALA-X-ALA reference, ``rel_asa['total']``), classified by ``aa_character_protorp``
  (charged D E K R; polar C H N Q S T W Y; apolar A G F I L M P V), as percentages.

Deviations: SASA by mdtraj Shrake–Rupley (probe 1.4 Å, 960 points, mdtraj radii) on heavy
atoms instead of freesasa with NACCESS radii; and the complex used for %NIS is made of the
chains in the scored groups only (so one interface of a multi-chain complex is scored on
its own), whereas PRODIGY runs freesasa on the whole model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import mdtraj
import numpy as np

from rankbind.analysis import contacts
from rankbind.analysis.interface import residue_sasa
from rankbind.errors import SelectionError

COEFFICIENTS = {
    "CC": -0.09459,
    "AC": -0.10007,
    "PP": 0.19577,
    "AP": -0.22671,
    "nis_apolar": 0.18681,
    "nis_charged": 0.13810,
    "intercept": -15.9433,
}
GAS_CONSTANT_KCAL = 0.0019858775  # kcal/(mol K), as in PRODIGY's dg_to_kd
KJ_PER_KCAL = 4.184
CONTACT_CUTOFF_NM = 0.55
ACC_THRESHOLD = 0.05

IC_CLASS = {
    **dict.fromkeys(("ASP", "GLU", "HIS", "LYS", "ARG"), "C"),
    **dict.fromkeys(("ASN", "GLN", "SER", "THR"), "P"),
    **dict.fromkeys(
        ("ALA", "CYS", "GLY", "PHE", "ILE", "LEU", "MET", "PRO", "TRP", "VAL", "TYR"), "A"
    ),
}
NIS_CLASS = {
    **dict.fromkeys(("ASP", "GLU", "LYS", "ARG"), "C"),
    **dict.fromkeys(("CYS", "HIS", "ASN", "GLN", "SER", "THR", "TRP", "TYR"), "P"),
    **dict.fromkeys(("ALA", "GLY", "PHE", "ILE", "LEU", "MET", "PRO", "VAL"), "A"),
}
# NACCESS total ASA of ALA-X-ALA (Å²), as PRODIGY's rel_asa["total"]
REFERENCE_ASA = {
    "ALA": 107.95, "CYS": 134.28, "ASP": 140.39, "GLU": 172.25, "PHE": 199.48,
    "GLY": 80.10, "HIS": 182.88, "ILE": 175.12, "LYS": 200.81, "LEU": 178.63,
    "MET": 194.15, "ASN": 143.94, "PRO": 136.13, "GLN": 178.50, "ARG": 238.76,
    "SER": 116.50, "THR": 139.27, "VAL": 151.44, "TRP": 249.36, "TYR": 212.76,
}  # fmt: skip
# protonation-state residue names map onto the standard ones
ALIASES = {"HID": "HIS", "HIE": "HIS", "HIP": "HIS", "HSD": "HIS", "HSE": "HIS", "CYX": "CYS",
           "ASH": "ASP", "GLH": "GLU", "LYN": "LYS"}  # fmt: skip


def ic_nis_dg(
    ic_cc: float, ic_ac: float, ic_pp: float, ic_ap: float, nis_apolar: float, nis_charged: float
) -> float:
    """PRODIGY IC-NIS ΔG (kcal/mol) from contact counts and %NIS (0–100)."""
    c = COEFFICIENTS
    return (
        c["CC"] * ic_cc
        + c["AC"] * ic_ac
        + c["PP"] * ic_pp
        + c["AP"] * ic_ap
        + c["nis_apolar"] * nis_apolar
        + c["nis_charged"] * nis_charged
        + c["intercept"]
    )


def dg_to_kd(dg_kcal: float, temperature_k: float = 298.15) -> float:
    """Dissociation constant (M) = exp(ΔG / RT)."""
    return math.exp(dg_kcal / (GAS_CONSTANT_KCAL * temperature_k))


def _std(name: str) -> str:
    name = ALIASES.get(name, name)
    if name not in IC_CLASS:
        raise SelectionError(
            f"PRODIGY has no class for residue '{name}' (standard amino acids only)"
        )
    return name


def classify_contacts(resname_pairs) -> dict[str, int]:
    """Counts of contact classes CC, AC, PP, AP, CP, AA from (resname, resname) pairs."""
    bins = dict.fromkeys(("CC", "CP", "AC", "PP", "AP", "AA"), 0)
    for r1, r2 in resname_pairs:
        key = "".join(sorted((IC_CLASS[_std(r1)], IC_CLASS[_std(r2)])))
        bins[key] += 1
    return bins


def nis_percentages(resnames, relative_sasa) -> dict[str, float]:
    """%NIS apolar/charged/polar over residues with relative SASA >= ACC_THRESHOLD."""
    counts = {"A": 0, "C": 0, "P": 0}
    for name, rsa in zip(resnames, relative_sasa, strict=True):
        if rsa >= ACC_THRESHOLD:
            counts[NIS_CLASS[_std(name)]] += 1
    total = sum(counts.values())
    if total == 0:
        raise SelectionError("no solvent-exposed residues: cannot compute %NIS")
    return {
        "nis_apolar": 100.0 * counts["A"] / total,
        "nis_charged": 100.0 * counts["C"] / total,
        "nis_polar": 100.0 * counts["P"] / total,
    }


@dataclass
class ProdigyResult:
    """Per-class interfacial contact counts, %NIS, ΔG and Kd of one frame."""

    groups: list[str]
    n_contacts: int
    contacts: dict[str, int]
    nis_apolar: float
    nis_charged: float
    nis_polar: float
    dg_kcal_per_mol: float
    dg_kj_per_mol: float
    kd_molar: float
    temperature_k: float
    model: str = "PRODIGY IC-NIS (Vangone & Bonvin, eLife 2015)"
    notes: str = (
        "SASA by mdtraj Shrake-Rupley on heavy atoms (not freesasa/NACCESS radii); %NIS over "
        "the chains of the scored groups only; a single-structure regression estimate: "
        "the model's own prediction error (see the paper) is not propagated here."
    )

    def to_json(self) -> dict:
        return asdict(self)


def predict(
    trajectory: mdtraj.Trajectory,
    groups: list[np.ndarray],
    group_names: list[str] | None = None,
    frame: int = 0,
    temperature_k: float = 298.15,
) -> ProdigyResult:
    """PRODIGY estimate for one frame; ``groups`` are disjoint residue-index arrays (e.g.
    all chains of each partner). Contacts are counted between different groups."""
    if len(groups) < 2:
        raise SelectionError("PRODIGY needs at least two residue groups")
    traj = trajectory[frame]
    top = traj.topology
    residues = list(top.residues)
    pairs = np.concatenate(
        [
            contacts.cross_pairs(np.asarray(groups[i]), np.asarray(groups[j]))
            for i in range(len(groups))
            for j in range(i + 1, len(groups))
        ]
    )
    dist, _ = contacts.compute_contacts(traj, pairs, "closest-heavy", periodic=True)
    in_contact = pairs[dist[0] <= CONTACT_CUTOFF_NM]
    if not len(in_contact):
        raise SelectionError(f"no interfacial contacts within {CONTACT_CUTOFF_NM * 10} Å")
    bins = classify_contacts((residues[i].name, residues[j].name) for i, j in in_contact)
    members = np.unique(np.concatenate([np.asarray(g) for g in groups]))
    heavy = np.array(
        [
            a.index
            for a in top.atoms
            if a.residue.index in set(members.tolist())
            and (a.element is None or a.element.symbol != "H")
        ]
    )
    res_idx, sasa = residue_sasa(traj, heavy)
    names = [_std(residues[i].name) for i in res_idx]
    rsa = sasa[0] / np.array([REFERENCE_ASA[n] for n in names])
    nis = nis_percentages(names, rsa)
    dg = ic_nis_dg(
        bins["CC"], bins["AC"], bins["PP"], bins["AP"], nis["nis_apolar"], nis["nis_charged"]
    )
    return ProdigyResult(
        group_names or [f"group{i}" for i in range(len(groups))],
        int(len(in_contact)),
        bins,
        nis["nis_apolar"],
        nis["nis_charged"],
        nis["nis_polar"],
        dg,
        dg * KJ_PER_KCAL,
        dg_to_kd(dg, temperature_k),
        temperature_k,
    )


def predict_frames(
    trajectory: mdtraj.Trajectory,
    groups: list[np.ndarray],
    group_names: list[str] | None = None,
    temperature_k: float = 298.15,
) -> tuple[list[ProdigyResult], dict]:
    """PRODIGY on every frame, plus a summary: mean ΔG (kcal/mol and kJ/mol), its
    standard error over frames (None for one frame; frames treated as independent: pass decorrelated frames,
    e.g. a strided trajectory) and the Kd of the mean ΔG."""
    results = [
        predict(trajectory, groups, group_names, frame, temperature_k)
        for frame in range(len(trajectory))
    ]
    dg = np.array([r.dg_kcal_per_mol for r in results])
    sem = float(dg.std(ddof=1) / np.sqrt(len(dg))) if len(dg) > 1 else None
    summary = {
        "n_frames": len(dg),
        "dg_kcal_per_mol_mean": float(dg.mean()),
        "dg_kcal_per_mol_sem": sem,
        "dg_kj_per_mol_mean": float(dg.mean()) * KJ_PER_KCAL,
        "dg_kj_per_mol_sem": None if sem is None else sem * KJ_PER_KCAL,
        "kd_molar_of_mean_dg": dg_to_kd(float(dg.mean()), temperature_k),
        "temperature_k": temperature_k,
    }
    return results, summary
