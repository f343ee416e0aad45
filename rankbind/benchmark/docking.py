"""Docking benchmark: rankbind's FFT docking (:func:`rankbind.modelling.docking.dock`) on
antibody–antigen cases, every ranked pose scored against the bound complex.

Per case and mode the antibody (receptor) stays fixed and the antigen (ligand) starts
from a random orientation (a seeded uniform rotation about its centroid plus a random
shift: the benchmark's unbound/bound pairs come pre-superposed, which would otherwise leak
the answer). Each clustered pose, in rank order, gets DockQ, fnat, i-RMSD, L-RMSD and the
CAPRI class against the bound complex; residues of unbound structures are matched to the
bound ones by sequence alignment per chain.

Tasks run case by case in :func:`interleaved` order (difficulty classes in proportion, all
modes of a case together), so a partial run is a representative sample.

Modes (all through the docking API's restraint: poses with fewer than
``restraint_min_atoms`` ligand restraint atoms within ``restraint_cutoff`` Å of receptor
restraint atoms are discarded before ranking):

* ``unrestrained``;
* ``paratope``: receptor restraint = the Kabat CDRs found on each antibody chain's
  sequence (:func:`rankbind.modelling.fab.heavy_cdrs` / ``light_cdrs``, heavy rules tried
  first, then light; VHH included; residues missing from the coordinates counted by
  :func:`gapped_sequence`), ligand restraint = every antigen atom (the antigen must touch
  a CDR);
* ``epitope_paratope``: as ``paratope`` but the ligand restraint is the known epitope:
  antigen residues with a heavy atom within ``epitope_cutoff`` Å of the antibody in the
  bound complex (mapped to the unbound antigen). For non-antibody receptors (rankbind's
  RANKL complexes) both sides use the known interface.
"""

from __future__ import annotations

import hashlib

import numpy as np

from rankbind.analysis import dockq
from rankbind.benchmark import metrics
from rankbind.benchmark.datasets import CATEGORIES, DockingCase
from rankbind.errors import RankbindError
from rankbind.settings import DockingBenchmarkSettings


def _case_seed(name: str, seed: int) -> int:
    return int(hashlib.sha256(f"{name}:{seed}".encode()).hexdigest()[:8], 16)


def random_start(xyz: np.ndarray, name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random rigid move (rotation about the centroid + shift of 5-15 Å):
    returns (R, t) with x' = R @ x + t."""
    from rankbind.modelling.docking import random_rotation

    rng = np.random.default_rng(_case_seed(name, seed))
    rot = random_rotation(rng)
    shift = rng.normal(size=3)
    shift *= rng.uniform(5.0, 15.0) / np.linalg.norm(shift)
    c = xyz.mean(0)
    return rot, c - rot @ c + shift


def gapped_sequence(partner: dockq.Partner, chain: str) -> tuple[str, list[int | None]]:
    """One-letter sequence of ``chain`` with an ``X`` per residue missing from the
    coordinates, and per letter its residue index (None for an X). A residue is missing
    where the chain breaks (C to next N > 2.0 Å) and the residue numbers jump: the jump
    minus one residues (the sequence rules count residues, so an unresolved loop would
    shift every CDR after it)."""
    seq, idx = partner.sequence(chain)
    out, where = [seq[0]] if seq else [], [idx[0]] if idx else []
    for k in range(1, len(idx)):
        prev, cur = partner.atoms[idx[k - 1]], partner.atoms[idx[k]]
        jump = partner.keys[idx[k]][1] - partner.keys[idx[k - 1]][1] - 1
        if jump > 0 and "C" in prev and "N" in cur:
            if np.linalg.norm(np.asarray(prev["C"]) - np.asarray(cur["N"])) > 2.0:
                out += ["X"] * jump
                where += [None] * jump
        out.append(seq[k])
        where.append(idx[k])
    return "".join(out), where


def cdr_residues(partner: dockq.Partner) -> tuple[set, dict]:
    """Residue keys of the Kabat CDRs of every chain where the sequence rules apply
    (on :func:`gapped_sequence`; residues missing from the coordinates are skipped)."""
    from rankbind.modelling.fab import heavy_cdrs, light_cdrs

    found, info = set(), {}
    for chain in partner.chains:
        seq, idx = gapped_sequence(partner, chain)
        for kind, rule in (("heavy", heavy_cdrs), ("light", light_cdrs)):
            try:
                cdrs = rule(seq)
            except Exception:  # rules do not fit this chain
                continue
            for cdr in cdrs:
                found |= {partner.keys[idx[p - 1]] for p in range(cdr.start, cdr.end + 1)
                          if idx[p - 1] is not None}  # fmt: skip
            info[chain] = kind
            break
    return found, info


def _interface(rec: dockq.Partner, lig: dockq.Partner, cutoff: float) -> tuple[set, set]:
    """Residue keys of rec and lig with heavy atoms within ``cutoff`` Å of each other."""
    near = dockq._residue_contacts(rec, lig, range(len(rec.keys)), range(len(lig.keys)), cutoff)
    return {rec.keys[a] for a, _ in near}, {lig.keys[b] for _, b in near}


def load_structures(case: DockingCase, settings: DockingBenchmarkSettings) -> dict:
    """Partners to dock (unbound where available) and the native (bound) complex."""
    from rankbind.benchmark.datasets import chain_ids, read_atoms

    native_rec = metrics.read_partner(case.receptor_bound, case.receptor_chains)
    native_lig = metrics.read_partner(case.ligand_bound, case.ligand_chains)
    if settings.unbound and case.receptor_unbound and case.ligand_unbound:
        rec_atoms, lig_atoms = read_atoms(case.receptor_unbound), read_atoms(case.ligand_unbound)
        rec = dockq.partner_from_atoms(rec_atoms, chain_ids(rec_atoms))
        lig = dockq.partner_from_atoms(lig_atoms, chain_ids(lig_atoms))
        kind = "unbound"
    else:
        rec, lig, kind = native_rec, native_lig, "bound"
    return {"rec": rec, "lig": lig, "native_rec": native_rec, "native_lig": native_lig,
            "kind": kind}  # fmt: skip


def restraints(
    case: DockingCase, s: dict, mode: str, settings
) -> tuple[set | None, set | None, dict]:
    """(receptor restraint keys, ligand restraint keys, info) for ``mode`` in the
    coordinates of the structures being docked."""
    if mode == "unrestrained":
        return None, None, {}
    rec_if, lig_if = _interface(s["native_rec"], s["native_lig"], settings.epitope_cutoff)
    cdrs, chains = cdr_residues(s["rec"])
    info: dict = {"cdr_chains": chains}
    if cdrs:
        rec_keys = cdrs
        info["paratope"] = "Kabat CDRs from the sequence"
    else:
        if mode == "paratope":
            raise RankbindError(f"{case.name}: no CDRs found on receptor chains {s['rec'].chains}")
        rm, rn = dockq.match_partner(s["rec"], s["native_rec"])
        rec_keys = {s["rec"].keys[i] for i, j in zip(rm, rn, strict=True)
                    if s["native_rec"].keys[j] in rec_if}  # fmt: skip
        info["paratope"] = f"known interface (heavy atoms within {settings.epitope_cutoff} Å)"
    if mode == "paratope":
        return rec_keys, set(s["lig"].keys), info
    lm, ln = dockq.match_partner(s["lig"], s["native_lig"])
    lig_keys = {s["lig"].keys[i] for i, j in zip(lm, ln, strict=True)
                if s["native_lig"].keys[j] in lig_if}  # fmt: skip
    info["epitope"] = f"known: antigen residues within {settings.epitope_cutoff} Å of the antibody"
    info["n_epitope_residues"] = len(lig_keys)
    return rec_keys, lig_keys, info


def posed_ligand(ligand: dockq.Partner, rot0, t0, pose, ligand_center) -> dockq.Partner:
    """The ligand as placed by ``pose``, which was docked from the random start
    x_start = rot0 @ x + t0: x_model = P.rot @ (x_start - centre) + P.pos."""
    rot = pose.rotation @ rot0
    trans = pose.rotation @ (t0 - ligand_center) + pose.position
    return ligand.transformed(rot, trans)


def run_case(payload: tuple[DockingCase, str], settings: DockingBenchmarkSettings) -> dict:
    """Dock one case in one mode; every ranked pose with its DockQ/CAPRI metrics."""
    from rankbind.modelling.docking import dock, molecule_from_partner

    case, mode = payload
    s = load_structures(case, settings)
    rec_keys, lig_keys, info = restraints(case, s, mode, settings)
    rot0, t0 = random_start(s["lig"].coordinates(), case.name, settings.seed)
    lig_start = s["lig"].transformed(rot0, t0)
    receptor = molecule_from_partner(s["rec"], rec_keys)
    ligand = molecule_from_partner(lig_start, lig_keys)
    rotations = None
    if settings.positive_control:
        from rankbind.modelling.docking import quaternion_matrices, super_fibonacci_quaternions

        rotations = np.concatenate(
            [quaternion_matrices(super_fibonacci_quaternions(settings.n_rotations)), rot0.T[None]]
        )
    result = dock(
        receptor, ligand, settings.docking_settings(), rotations=rotations, progress=False
    )
    matching = dockq.match(s["rec"], s["lig"], s["native_rec"], s["native_lig"])
    start_metrics = dockq.dockq(s["rec"], lig_start, s["native_rec"], s["native_lig"], matching)
    poses = []
    for pose in result.poses:
        model_lig = posed_ligand(s["lig"], rot0, t0, pose, result.ligand_center)
        m = dockq.dockq(s["rec"], model_lig, s["native_rec"], s["native_lig"], matching)
        poses.append(
            {
                "rank": pose.rank,
                "score": pose.score,
                "cluster_size": pose.cluster_size,
                "restraint_atoms": pose.restraint_atoms,
                **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()},
            }
        )
    return {
        "case": case.name,
        "mode": mode,
        "category": case.category,
        "source": case.source,
        "structures": s["kind"],
        "grid_size": result.grid_size,
        "n_rotations": result.n_rotations,
        "restrained": result.restrained,
        "restraint_info": info,
        "n_matched_residues": {
            "receptor": int(len(matching.rec_model)),
            "ligand": int(len(matching.lig_model)),
        },  # fmt: skip
        "start_dockq": round(start_metrics["dockq"], 4),
        "poses": poses,
        "best_dockq_top10": max((p["dockq"] for p in poses[:10]), default=None),
    }


def summarise(records: list[dict], settings: DockingBenchmarkSettings) -> dict:
    """Success rates (acceptable-or-better and medium-or-better in the top N) per mode,
    per source and per difficulty category."""
    ok = [r["result"] for r in records if r["status"] == "ok"]
    out: dict = {}
    for mode in settings.modes:
        rows = [r for r in ok if r["mode"] == mode]
        by: dict = {}
        sources = sorted({r["source"] for r in rows})
        for source in sources:
            subset = [r for r in rows if r["source"] == source]
            groups = {"all": subset}
            for cat in CATEGORIES:
                groups[cat] = [r for r in subset if r["category"] == cat]
            by[source] = {
                name: {
                    "n_cases": len(g),
                    "success": metrics.success_rates(
                        [[p["capri"] for p in r["poses"]] for r in g], settings.tops
                    ),
                    "curve": success_curve(g, max(settings.tops)),
                }
                for name, g in groups.items()
                if g
            }
        out[mode] = by
    return out


def success_curve(rows: list[dict], max_rank: int) -> dict:
    """Success rate (acceptable+, medium+) at every rank 1..max_rank."""
    curve = {"rank": list(range(1, max_rank + 1)), "acceptable": [], "medium": []}
    for n in curve["rank"]:
        rates = metrics.success_rates([[p["capri"] for p in r["poses"]] for r in rows], (n,))
        curve["acceptable"].append(rates[f"top{n}_acceptable"]["rate"])
        curve["medium"].append(rates[f"top{n}_medium"]["rate"])
    return curve


def interleaved(cases: list[DockingCase]) -> list[DockingCase]:
    """``cases`` ordered so that every prefix holds each (source, difficulty class) group in
    proportion to its size: the k-th of a group of n sits at (k + 0.5) / n (ties keep the
    given order). A partial run is then a representative sample, not only Rigid cases."""
    groups: dict[tuple[str, str], list[DockingCase]] = {}
    for case in cases:
        groups.setdefault((case.source, case.category), []).append(case)
    position = {id(c): (k + 0.5) / len(g) for g in groups.values() for k, c in enumerate(g)}
    return sorted(cases, key=lambda c: position[id(c)])


def tasks(cases: list[DockingCase], settings: DockingBenchmarkSettings):
    """One task per (case, mode): cases in :func:`interleaved` order, every mode of a case
    before the next case. ``paratope`` needs an antibody receptor, so it is not planned for
    rankbind's RANKL complexes (their receptor restraint is the known interface, which is
    the ``epitope_paratope`` mode)."""
    from rankbind.benchmark.runner import Task

    return [Task(f"{c.name}__{m}", (c, m)) for c in interleaved(cases) for m in settings.modes
            if m != "paratope" or c.source == "antibody_benchmark"]  # fmt: skip
