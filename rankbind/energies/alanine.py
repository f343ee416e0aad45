"""Computational alanine scanning by side-chain truncation at Cβ.

A residue becomes ALA by deleting every side-chain atom beyond Cβ and replacing each heavy
atom bonded to Cβ (Cγ, Cγ1/Cγ2, Oγ, Oγ1, Sγ) with a hydrogen on the Cβ→Xγ bond vector at
1.09 Å (the standard truncation used by Amber/gmx_MMPBSA alanine scanning). Every frame keeps
the wild-type coordinates of all remaining atoms, so ΔΔG = ΔG(mutant) - ΔG(wild type) is a
paired per-frame difference from the same single trajectory. The mutant System is rebuilt
from the same force field (:func:`rankbind.energies.mmgbsa.build_system`).

Several residues may be truncated together (a multi-residue mutant). GLY, ALA and PRO
(ring through the backbone N) cannot be truncated, nor a cysteine in a disulfide bond;
these raise :class:`AlanineScanError`. Hot spots: ΔΔG ≥ 1 kcal/mol (default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from openmm import app

from rankbind.energies.bootstrap import mean_sem
from rankbind.energies.entropy import KJ_PER_KCAL
from rankbind.energies.mmgbsa import (
    Estimate,
    MMGBSAResult,
    MMGBSASettings,
    mmgbsa,
    trim_residues,
)
from rankbind.errors import RankbindError
from rankbind.progress import progress_for

CH_BOND_NM = 0.109
_BACKBONE = {"N", "H", "H1", "H2", "H3", "CA", "HA", "C", "O", "OXT", "CB"}
_CB_HYDROGENS = ("HB", "HB1", "HB2", "HB3")
_NOT_TRUNCATABLE = {"GLY": "has no CB", "ALA": "is already ALA", "PRO": "has a backbone ring"}


class AlanineScanError(RankbindError):
    """A residue cannot be truncated to alanine."""


@dataclass(frozen=True)
class Mutant:
    """A truncated structure. positions (F, M, 3) nm; ``parent[k]`` is the wild-type atom
    that mutant atom k is (or, for an added Cβ hydrogen, the Cβ it is bonded to)."""

    topology: app.Topology
    positions: np.ndarray
    parent: np.ndarray
    label: str

    def atoms_from(self, wild_type_atoms: Sequence[int]) -> np.ndarray:
        """Mutant atom indices derived from the given wild-type atoms."""
        return np.flatnonzero(np.isin(self.parent, np.asarray(wild_type_atoms)))


def residue_label(residue: app.Residue) -> str:
    return f"{residue.name}{residue.id}/{residue.chain.id}"


def _bond_lists(topology: app.Topology) -> dict[int, list]:
    bonded: dict[int, list] = {a.index: [] for a in topology.atoms()}
    for a, b in topology.bonds():
        bonded[a.index].append(b)
        bonded[b.index].append(a)
    return bonded


def _gamma_atoms(res: app.Residue, bonded: dict[int, list]) -> list | str:
    """Heavy side-chain atoms bonded to CB, or the reason the residue cannot be truncated."""
    if res.name in _NOT_TRUNCATABLE:
        return f"it {_NOT_TRUNCATABLE[res.name]}"
    names = {a.name: a for a in res.atoms()}
    if "CB" not in names or "CA" not in names:
        return "no CA/CB atoms"
    gammas = [
        b
        for b in bonded[names["CB"].index]
        if b.residue is res and b.name not in _BACKBONE and b.element.symbol != "H"
    ]
    if not gammas:
        return "no side-chain atom bonded to CB"
    if any(b.residue is not res for g in gammas for b in bonded[g.index]):
        return "its side chain is bonded to another residue (e.g. a disulfide)"
    return gammas


def truncatable(topology: app.Topology, residue: int) -> str | None:
    """None if residue index ``residue`` can be truncated to ALA, else the reason."""
    res = list(topology.residues())[residue]
    gammas = _gamma_atoms(res, _bond_lists(topology))
    return gammas if isinstance(gammas, str) else None


def truncate_to_alanine(
    topology: app.Topology, frames: np.ndarray, residues: Sequence[int]
) -> Mutant:
    """Truncate residues (OpenMM residue indices) of ``topology`` to ALA in every frame
    (F, N, 3) nm."""
    frames = np.asarray(frames, dtype=float)
    if frames.ndim == 2:
        frames = frames[None]
    all_residues = list(topology.residues())
    wanted = set()
    for r in residues:
        if not 0 <= int(r) < len(all_residues):
            raise AlanineScanError(f"residue index {r} outside the topology")
        wanted.add(int(r))
    bonded = _bond_lists(topology)

    keep, new_h = [], {}  # new_h: CB atom index -> list of gamma atom indices
    for res in all_residues:
        atoms = list(res.atoms())
        if res.index not in wanted:
            keep.extend(atoms)
            continue
        gammas = _gamma_atoms(res, bonded)
        if isinstance(gammas, str):
            raise AlanineScanError(f"cannot truncate {residue_label(res)} to ALA: {gammas}")
        cb = next(a for a in atoms if a.name == "CB")
        keep.extend(a for a in atoms if a.name in _BACKBONE or a.name in _CB_HYDROGENS)
        new_h[cb.index] = [g.index for g in gammas]

    top = app.Topology()
    old_to_new = np.full(topology.getNumAtoms(), -1, dtype=np.int64)
    kept = {a.index for a in keep}
    columns: list[tuple[str, int, int]] = []  # ("old", i, -1) or ("h", cb, gamma)
    new_atoms = {}
    for chain in topology.chains():
        c = top.addChain(chain.id)
        for res in chain.residues():
            mutated = res.index in wanted
            r = top.addResidue("ALA" if mutated else res.name, c, res.id, res.insertionCode)
            hb = 1
            for a in res.atoms():
                if a.index not in kept:
                    continue
                name = a.name
                if mutated and name in _CB_HYDROGENS:
                    name, hb = f"HB{hb}", hb + 1
                new = top.addAtom(name, a.element, r)
                old_to_new[a.index] = new.index
                new_atoms[new.index] = new
                columns.append(("old", a.index, -1))
            if mutated:
                cb_old = next(a.index for a in res.atoms() if a.name == "CB")
                for g in new_h[cb_old]:
                    h = top.addAtom(f"HB{hb}", app.element.hydrogen, r)
                    hb += 1
                    top.addBond(new_atoms[old_to_new[cb_old]], h)
                    columns.append(("h", cb_old, g))
    for a, b in topology.bonds():
        if old_to_new[a.index] >= 0 and old_to_new[b.index] >= 0:
            top.addBond(new_atoms[old_to_new[a.index]], new_atoms[old_to_new[b.index]])

    positions = np.zeros((len(frames), len(columns), 3))
    for k, (kind, i, g) in enumerate(columns):
        if kind == "old":
            positions[:, k] = frames[:, i]
        else:
            v = frames[:, g] - frames[:, i]
            positions[:, k] = frames[:, i] + CH_BOND_NM * v / np.linalg.norm(v, axis=1)[:, None]
    label = "+".join(residue_label(all_residues[r]) for r in sorted(wanted)) + "->ALA"
    parent = np.array([i for _, i, _ in columns], dtype=np.int64)
    return Mutant(top, positions, parent, label)


@dataclass
class ScanResult:
    """ΔΔG = ΔG(mutant) - ΔG(wild type) (kJ/mol per frame and bootstrap estimate)."""

    label: str
    residues: list[int]
    ddg_frames: np.ndarray
    ddg: Estimate
    hotspot: bool
    mutant: MMGBSAResult

    def as_dict(self) -> dict:
        return {
            "mutation": self.label,
            "residue_indices": self.residues,
            "ddG": self.ddg.as_dict(),
            "hotspot": self.hotspot,
            "dG_mutant": self.mutant.binding.as_dict(),
        }


def interface_residues(
    topology: app.Topology,
    frames: np.ndarray,
    receptor: Sequence[int],
    ligand: Sequence[int],
    cutoff: float = 0.45,
) -> list[int]:
    """Residues an interface scan visits: :func:`~rankbind.energies.mmgbsa.trim_residues`
    at the scan's contact cutoff (nm), 0.45 by default."""
    return trim_residues(topology, frames, receptor, ligand, cutoff)


def alanine_scan(
    topology: app.Topology,
    frames: np.ndarray,
    receptor: Sequence[int],
    ligand: Sequence[int],
    mutations: Sequence[Sequence[int]],
    settings: MMGBSASettings | None = None,
    hotspot_kcal: float = 1.0,
    wild_type: MMGBSAResult | None = None,
    progress=True,
) -> tuple[MMGBSAResult, list[ScanResult]]:
    """ΔΔG of each mutant in ``mutations`` (each a list of residue indices truncated
    together) over frames (F, N, 3) nm. Returns the wild-type result and one
    :class:`ScanResult` per mutant; ``hotspot`` is ΔΔG ≥ ``hotspot_kcal``. ``progress``:
    True (stderr), False or a text stream; counts MM/GBSA runs (wild type, mutants)."""
    settings = settings or MMGBSASettings()
    frames = np.asarray(frames, dtype=float)
    if frames.ndim == 2:
        frames = frames[None]
    keep = None
    if settings.trim_nm > 0:  # the wild type's trimmed residues, for every mutant
        keep = trim_residues(topology, frames, receptor, ligand, settings.trim_nm)
    bar = progress_for(
        progress, "alanine scan", len(mutations) + (wild_type is None), "MM/GBSA runs"
    )
    with bar:
        wt = wild_type
        if wt is None:
            wt = mmgbsa(
                topology, frames, receptor, ligand, settings, keep_residues=keep, progress=False
            )
            bar.advance(1, "wild type")
        out = []
        for group in mutations:
            if keep is not None and not set(map(int, group)) <= set(keep):
                outside = sorted(set(map(int, group)) - set(keep))
                raise AlanineScanError(
                    f"residues {outside} lie outside the {settings.trim_nm} nm interface trim"
                )
            mutant = truncate_to_alanine(topology, frames, list(group))
            rec, lig = mutant.atoms_from(receptor), mutant.atoms_from(ligand)
            result = mmgbsa(
                mutant.topology,
                mutant.positions,
                rec,
                lig,
                settings,
                keep_residues=keep,
                progress=False,
            )
            ddg = result.delta_total - wt.delta_total
            mean, sem, _ = mean_sem(
                ddg,
                settings.uncertainty,
                settings.block_length,
                settings.n_bootstrap,
                settings.seed,
            )
            out.append(
                ScanResult(
                    label=mutant.label,
                    residues=[int(r) for r in group],
                    ddg_frames=ddg,
                    ddg=Estimate(mean, sem),
                    hotspot=mean / KJ_PER_KCAL >= hotspot_kcal,
                    mutant=result,
                )
            )
            bar.advance(1, mutant.label)
    return wt, out
