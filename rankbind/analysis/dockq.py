"""DockQ and the CAPRI class of a docked complex against the native one: the one
implementation, used by rankbind.modelling.docking (pose metrics) and rankbind.benchmark.

DockQ (Basu & Wallner 2016, PLoS One 11:e0161879; definitions as DockQ 2.x):

* fnat: fraction of native residue-residue contacts (any heavy-atom pair < 5 Å across the
  interface) present in the model; residues are matched model↔native (sequence alignment
  per chain, :func:`match_partner`).
* i-RMSD: RMSD of backbone atoms (N, CA, C, O) of the native interface residues (any heavy
  atom within 10 Å of the other partner) after optimal superposition of those atoms.
* L-RMSD: RMSD of the smaller partner's ("ligand") backbone after superposing the larger
  partner's ("receptor", more residues) backbone.
* DockQ = (fnat + 1/(1+(iRMS/1.5)²) + 1/(1+(LRMS/8.5)²)) / 3.
* CAPRI class from fnat, i-RMSD, L-RMSD (Lensink et al. 2007 thresholds):
  high fnat ≥ 0.5 and (L ≤ 1 or i ≤ 1); medium fnat ≥ 0.3 and (L ≤ 5 or i ≤ 2);
  acceptable fnat ≥ 0.1 and (L ≤ 10 or i ≤ 4); otherwise incorrect.

Multi-chain partners (antibody heavy + light) count as one partner, as DockQ 1 with
merged chains (and as DockQ 2 on files whose partners are merged into one chain each).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

BACKBONE = ("N", "CA", "C", "O")
CAPRI_CLASSES = ("incorrect", "acceptable", "medium", "high")
CAPRI_RANK = {c: i for i, c in enumerate(CAPRI_CLASSES)}


# ------------------------------------------------------------------ structures


@dataclass
class Partner:
    """Residues of one docking partner (one or more chains). ``keys[i]`` = (chain, resseq,
    icode); ``atoms[i]`` = {atom name: xyz (3,) Å}, heavy atoms only."""

    keys: list[tuple[str, int, str]]
    resnames: list[str]
    atoms: list[dict[str, np.ndarray]]

    @property
    def chains(self) -> list[str]:
        return list(dict.fromkeys(k[0] for k in self.keys))

    def sequence(self, chain: str) -> tuple[str, list[int]]:
        from rankbind.structures.sequences import THREE_TO_ONE

        idx = [i for i, k in enumerate(self.keys) if k[0] == chain]
        return "".join(THREE_TO_ONE.get(self.resnames[i], "X") for i in idx), idx

    def transformed(self, rotation: np.ndarray, translation: np.ndarray) -> Partner:
        """x' = rotation @ x + translation, every atom."""
        return Partner(
            list(self.keys),
            list(self.resnames),
            [{n: rotation @ x + translation for n, x in res.items()} for res in self.atoms],
        )

    def coordinates(self) -> np.ndarray:
        return np.array([x for res in self.atoms for x in res.values()]).reshape(-1, 3)


def partner_from_atoms(atoms, chains) -> Partner:
    """A :class:`Partner` from rankbind ``pdbfile.Atom`` records of ``chains`` (ATOM only,
    hydrogens dropped, first occurrence of an atom name kept)."""
    chains = list(chains)
    order: dict[tuple, int] = {}
    keys, names, coords = [], [], []
    for a in atoms:
        if a.record != "ATOM" or a.chain not in chains or a.element.upper() in ("H", "D"):
            continue
        key = (a.chain, a.resseq, a.icode)
        if key not in order:
            order[key] = len(keys)
            keys.append(key)
            names.append(a.resname)
            coords.append({})
        coords[order[key]].setdefault(a.name, np.asarray(a.xyz, dtype=float))
    # chains in the order asked for, residues in file order within a chain
    rank = {c: i for i, c in enumerate(chains)}
    perm = sorted(range(len(keys)), key=lambda i: (rank[keys[i][0]], i))
    return Partner([keys[i] for i in perm], [names[i] for i in perm], [coords[i] for i in perm])


def match_partner(model: Partner, native: Partner) -> tuple[np.ndarray, np.ndarray]:
    """Matched residue indices (model_idx, native_idx). Identical residue keys match
    directly; otherwise each native chain is aligned (BLOSUM62 global, end gaps free) to
    the model chain it aligns best with, and identical-or-not aligned pairs match."""
    if model.keys == native.keys:
        idx = np.arange(len(model.keys))
        return idx, idx
    from rankbind.structures.sequences import align

    m_idx, n_idx = [], []
    used: set[str] = set()
    for nchain in native.chains:
        nseq, nres = native.sequence(nchain)
        best = None
        for mchain in model.chains:
            if mchain in used:
                continue
            mseq, mres = model.sequence(mchain)
            aln = align(mseq, nseq)
            if best is None or aln.score > best[0].score:
                best = (aln, mchain, mres)
        if best is None or best[0].n_identical < 0.3 * min(len(nseq), len(best[0].query)):
            continue
        aln, mchain, mres = best
        used.add(mchain)
        for q, r in aln.pairs:
            if q is not None and r is not None:
                m_idx.append(mres[q])
                n_idx.append(nres[r])
    return np.array(m_idx, dtype=int), np.array(n_idx, dtype=int)


# ------------------------------------------------------------------ DockQ


def kabsch(mobile: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R and translation t minimising |R @ mobile + t - target| (rows = points)."""
    mc, tc = mobile.mean(0), target.mean(0)
    h = (mobile - mc).T @ (target - tc)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rot, tc - rot @ mc


def rmsd(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=1))))


def superposed_rmsd(mobile: np.ndarray, target: np.ndarray) -> float:
    rot, t = kabsch(mobile, target)
    return rmsd(mobile @ rot.T + t, target)


def _residue_contacts(rec: Partner, lig: Partner, ri, li, cutoff: float) -> set:
    """Pairs (k, m) of positions into ri/li whose residues have heavy atoms < cutoff Å."""
    r_xyz, r_own = [], []
    for k, i in enumerate(ri):
        for x in rec.atoms[i].values():
            r_xyz.append(x)
            r_own.append(k)
    l_xyz, l_own = [], []
    for m, j in enumerate(li):
        for x in lig.atoms[j].values():
            l_xyz.append(x)
            l_own.append(m)
    if not r_xyz or not l_xyz:
        return set()
    hits = cKDTree(np.array(r_xyz)).query_ball_tree(cKDTree(np.array(l_xyz)), cutoff)
    return {(r_own[a], l_own[b]) for a, bs in enumerate(hits) for b in bs}


def _backbone_pairs(model: Partner, native: Partner, mi, ni, positions) -> tuple:
    mx, nx = [], []
    for p in positions:
        ma, na = model.atoms[mi[p]], native.atoms[ni[p]]
        for name in BACKBONE:
            if name in ma and name in na:
                mx.append(ma[name])
                nx.append(na[name])
    return np.array(mx).reshape(-1, 3), np.array(nx).reshape(-1, 3)


def capri_class(fnat: float, irmsd: float, lrmsd: float) -> str:
    if fnat >= 0.5 and (lrmsd <= 1.0 or irmsd <= 1.0):
        return "high"
    if fnat >= 0.3 and (lrmsd <= 5.0 or irmsd <= 2.0):
        return "medium"
    if fnat >= 0.1 and (lrmsd <= 10.0 or irmsd <= 4.0):
        return "acceptable"
    return "incorrect"


def dockq_score(fnat: float, irmsd: float, lrmsd: float) -> float:
    return (fnat + 1.0 / (1.0 + (irmsd / 1.5) ** 2) + 1.0 / (1.0 + (lrmsd / 8.5) ** 2)) / 3.0


@dataclass
class Matching:
    """Residue correspondence model↔native of both partners (reusable over many poses)."""

    rec_model: np.ndarray
    rec_native: np.ndarray
    lig_model: np.ndarray
    lig_native: np.ndarray


def match(model_rec, model_lig, native_rec, native_lig) -> Matching:
    return Matching(*match_partner(model_rec, native_rec), *match_partner(model_lig, native_lig))


def dockq(
    model_rec: Partner,
    model_lig: Partner,
    native_rec: Partner,
    native_lig: Partner,
    matching: Matching | None = None,
    contact_cutoff: float = 5.0,
    interface_cutoff: float = 10.0,
) -> dict:
    """DockQ, fnat, fnonnat, i-RMSD, L-RMSD (Å) and CAPRI class of a model complex
    (two partners) against the native complex."""
    mt = matching or match(model_rec, model_lig, native_rec, native_lig)
    rm, rn, lm, ln = mt.rec_model, mt.rec_native, mt.lig_model, mt.lig_native
    if len(rm) == 0 or len(lm) == 0:
        raise ValueError("no residues of the model match the native complex")
    native_contacts = _residue_contacts(native_rec, native_lig, rn, ln, contact_cutoff)
    model_contacts = _residue_contacts(model_rec, model_lig, rm, lm, contact_cutoff)
    fnat = len(native_contacts & model_contacts) / max(len(native_contacts), 1)
    fnonnat = len(model_contacts - native_contacts) / max(len(model_contacts), 1)
    near = _residue_contacts(native_rec, native_lig, rn, ln, interface_cutoff)
    rec_if = sorted({a for a, _ in near})
    lig_if = sorted({b for _, b in near})
    mr, nr = _backbone_pairs(model_rec, native_rec, rm, rn, rec_if)
    ml, nl = _backbone_pairs(model_lig, native_lig, lm, ln, lig_if)
    irms = superposed_rmsd(np.concatenate([mr, ml]), np.concatenate([nr, nl]))
    # the receptor for L-RMSD is the partner with more (matched) residues
    big_is_rec = len(rm) >= len(lm)
    a_m, a_n = _backbone_pairs(model_rec, native_rec, rm, rn, range(len(rm)))
    b_m, b_n = _backbone_pairs(model_lig, native_lig, lm, ln, range(len(lm)))
    if not big_is_rec:
        a_m, a_n, b_m, b_n = b_m, b_n, a_m, a_n
    rot, t = kabsch(a_m, a_n)
    lrms = rmsd(b_m @ rot.T + t, b_n)
    return {
        "dockq": dockq_score(fnat, irms, lrms),
        "fnat": fnat,
        "fnonnat": fnonnat,
        "irmsd": irms,
        "lrmsd": lrms,
        "capri": capri_class(fnat, irms, lrms),
        "n_native_contacts": len(native_contacts),
    }
