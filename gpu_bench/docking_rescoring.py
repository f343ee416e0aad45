"""MM/GBSA rescoring of the RANKL re-docking runs (3URF, 4GIQ, 3ME2): where does the first
acceptable pose (CAPRI, rankbind.analysis.dockq) rank before and after re-ranking the top
clusters by MM/GBSA (rankbind.modelling.docking_rescoring)?

Poses: the stored issue-16 runs of gpu_bench/results/docking_redock/ (30° rotations, 1.5 Å
grid, seed-1 random start, consensus ranking) where they exist; otherwise the run is redone
with the settings stated in those files (its poses are written here). The stored poses act on
the randomised start ligand, which is rebuilt from the seed; each pose's CAPRI metrics are
recomputed and must equal the stored ones (a check of the reconstruction).

Partners: RANKL trimer (A, B, C) and receptor chain R of the hexamer, each prepared alone by
rankbind.preparation (amber14, hydrogens by template at pH 7, missing atoms built, gaps left
open), the ligand's all-atom coordinates moved by each pose.

Usage: python gpu_bench/docking_rescoring.py [--entries 3URF 4GIQ 3ME2]
       [--modes restrained unrestrained] [--top 10]
One JSON per (entry, mode) in gpu_bench/results/docking_rescoring/; a finished one is
skipped, a stored one with other settings stops the run; within a run, each pose's record
is checkpointed (ENTRY_MODE.checkpoint.json) and reused on a rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rankbind.fileio import write_json  # noqa: E402
from rankbind.modelling import docking as dk  # noqa: E402
from rankbind.modelling import docking_rescoring as rs  # noqa: E402
from rankbind.modelling import pipelines as pl  # noqa: E402
from rankbind.structures import build_assembly  # noqa: E402

HERE = Path(__file__).parent
REDOCK = HERE / "results" / "docking_redock"
OUT = HERE / "results" / "docking_rescoring"
SEED = 1


def docking_settings(stored: dict | None) -> dk.DockingSettings:
    """The stored run's settings, or those of the stored issue-16 runs (same script)."""
    if stored is not None:
        return dk.DockingSettings(**stored)
    ref = json.loads((REDOCK / "4GIQ_restrained_issue16.json").read_text())["settings"]
    return dk.DockingSettings(**ref)


def poses_of(entry: str, restrained: bool, out: Path) -> tuple[list[dict], dict, str]:
    """(stored pose dicts by rank, their settings, where from); reruns if none stored."""
    mode = "restrained" if restrained else "unrestrained"
    stored = REDOCK / f"{entry}_{mode}_issue16.json"
    if stored.exists():
        data = json.loads(stored.read_text())
        return data["poses"], data["settings"], str(stored.relative_to(HERE.parent))
    rerun = out / f"{entry}_{mode}_issue16_docking.json"
    if not rerun.exists():
        settings = docking_settings(None)
        cpu0, t0 = time.process_time(), time.perf_counter()
        case = pl.redock_case(entry, restrained, settings, seed=SEED)
        res = case["_result"]
        data = {k: v for k, v in case.items() if not k.startswith("_")}
        data |= {
            "mode": mode,
            "scoring": "issue16",
            "settings": res.settings.model_dump(mode="json"),
            "notes": res.notes,
            "timings_s": res.seconds | {"total": round(time.perf_counter() - t0, 1)},
            "cpu_s": round(time.process_time() - cpu0, 1),
            "load_average_1m": os.getloadavg()[0],
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        data["poses"] = data["poses"][:20]
        write_json(rerun, data)
    data = json.loads(rerun.read_text())
    return data["poses"], data["settings"], str(rerun.relative_to(HERE.parent))


def pose_row(q) -> dict:
    """One rescored pose as a result row (ranks, CAPRI class, DockQ, MM/GBSA record)."""
    m = q.mmgbsa
    return {
        "rank_after": q.rank,
        "rank_before": m["previous_rank"],
        "capri": q.metrics["capri"],
        "dockq": q.metrics["dockq"],
        "dG_kcal_per_mol": m["dG_kcal_per_mol"],
        "components_kJ_per_mol": m["components_kJ_per_mol"],
        "atoms_scored": m["atoms_scored"],
        "relax_heavy_atom_rmsd_nm": m["relax"]["heavy_atom_rmsd_nm"] if m["relax"] else None,
        "cpu_s": m["cpu_s"],
        "wall_s": m["wall_s"],
    }


def first_acceptable(ranked: list[tuple[int, str]]) -> int | None:
    hits = [rank for rank, capri in ranked if capri != "incorrect"]
    return min(hits) if hits else None


def run_case(entry: str, restrained: bool, top: int, out: Path, ranks=None, tag="") -> dict:
    mode = "restrained" if restrained else "unrestrained"
    stored, stored_settings, source = poses_of(entry, restrained, out)
    settings = docking_settings(stored_settings).replace(rank_by="mmgbsa", mmgbsa_rescore_top=top)
    assembly = build_assembly(entry, "hexamer")
    rec_chains = [c.chain_id for c in assembly.chains if c.molecule == "RANKL"]
    receptor = dk.molecule_from_assembly(assembly, rec_chains)
    ligand = dk.molecule_from_assembly(assembly, ["R"])
    natives = [dk.molecule_from_assembly(assembly, [c]).xyz for c in ("R", "S", "T")]
    start, rot, shift = pl.randomised_ligand(ligand, SEED)
    center = start.xyz.mean(0)

    cpu0 = time.process_time()
    rec_aa = rs.prepare_partner(assembly, rec_chains)
    lig_aa = rs.prepare_partner(assembly, ["R"])
    prep_cpu = time.process_time() - cpu0
    c0 = ligand.xyz.mean(0)  # the start ligand: rotated about its centre, then shifted
    start_nm = ((lig_aa.positions_nm * 10.0 - c0) @ rot.T + c0 + shift) / 10.0
    lig_start = rs.AllAtomPartner(lig_aa.topology, start_nm, lig_aa.record)

    poses = []
    for p in [q for q in stored[:top] if ranks is None or q["rank"] in ranks]:
        pose = dk.Pose(rank=p["rank"], rotation=np.array(p["rotation"]),
                       position=np.array(p["position_angstrom"]), score=p["score"],
                       shape=p["shape"], energy_kcal=p["electrostatic_kcal_per_mol"],
                       restraint_atoms=p["restraint_atoms"], ligand_center=center)  # fmt: skip
        model = pose.apply(start.xyz)
        options = [dk.capri_metrics(receptor, ligand, native, model) for native in natives]
        best = max(options, key=lambda m: (dk.CAPRI_ORDER[m["capri"]], m["fnat"]))
        if best["capri"] != p["capri"] or abs(best["dockq"] - p["dockq"]) > 2e-3:
            raise SystemExit(f"{entry} {mode} rank {p['rank']}: pose not reproduced "
                             f"({best} vs stored {p['capri']} DockQ {p['dockq']})")  # fmt: skip
        pose.metrics = best
        poses.append(pose)
    result = dk.DockingResult(poses=poses, settings=settings, grid_size=0, n_rotations=0,
                              ligand_center=center, restrained=restrained)  # fmt: skip
    checkpoint = out / f"{entry}_{mode}{tag}.checkpoint.json"
    out_result = rs.rescore_mmgbsa(result, rec_aa, lig_start, progress=True,
                                   checkpoint=checkpoint)  # fmt: skip
    rows = [pose_row(q) for q in out_result.poses]
    cpu = [r["cpu_s"] for r in rows]
    return {
        "entry": entry,
        "mode": mode,
        "poses_from": source,
        **first_acceptable_ranks(rows, stored),
        "n_rescored": len(rows),
        "cpu_s_per_pose_mean": round(float(np.mean(cpu)), 1),
        "cpu_s_per_pose_max": round(float(np.max(cpu)), 1),
        "cpu_s_preparation": round(prep_cpu, 1),
        "poses": rows,
        "settings": settings.model_dump(mode="json"),
        "mmgbsa": rs.mmgbsa_settings(settings).as_dict(),
        "partners": {"receptor": rec_aa.record, "ligand": lig_aa.record},
        "load_average_1m": os.getloadavg()[0],
        "machine": "2 CPU cores shared with other agents' runs (no GPU)",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def first_acceptable_ranks(rows: list[dict], stored: list[dict]) -> dict:
    """First acceptable-or-better rank of the rescored ``rows`` before and after the
    rescoring, and of the ``stored`` run's top 20."""
    return {
        "first_acceptable_rank_before": first_acceptable(
            [(r["rank_before"], r["capri"]) for r in rows]
        ),
        "first_acceptable_rank_after": first_acceptable(
            [(r["rank_after"], r["capri"]) for r in rows]
        ),
        "first_acceptable_rank_stored_top20": first_acceptable(
            [(p["rank"], p["capri"]) for p in stored]
        ),
    }


def summarise_checkpoint(entry: str, mode: str, out: Path) -> dict:
    """The finished poses of an interrupted run (its checkpoint, ranks 1..k without a gap),
    re-ranked by rescore_mmgbsa from the checkpoint alone (nothing is scored, so no partners
    are prepared); CAPRI class and DockQ from the stored run (the scoring run recomputed
    and checked them before scoring)."""
    checkpoint = out / f"{entry}_{mode}.checkpoint.json"
    done = json.loads(checkpoint.read_text())
    stored, stored_settings, source = poses_of(entry, mode == "restrained", out)
    k = 0
    while str(k + 1) in done["poses"]:
        k += 1
    settings = docking_settings(stored_settings).replace(
        rank_by="mmgbsa", mmgbsa_rescore_top=k, **done["settings"]
    )
    poses = []
    for p in stored[:k]:
        pose = dk.Pose(rank=p["rank"], rotation=np.array(p["rotation"]),
                       position=np.array(p["position_angstrom"]), score=p["score"],
                       shape=p["shape"], energy_kcal=p["electrostatic_kcal_per_mol"],
                       restraint_atoms=p["restraint_atoms"], ligand_center=np.zeros(3))  # fmt: skip
        pose.metrics = {"capri": p["capri"], "dockq": p["dockq"]}
        poses.append(pose)
    result = dk.DockingResult(poses=poses, settings=settings, grid_size=0, n_rotations=0,
                              ligand_center=np.zeros(3), restrained=mode == "restrained")  # fmt: skip
    ranked = rs.rescore_mmgbsa(result, None, None, progress=False, checkpoint=checkpoint)
    rows = [pose_row(q) for q in ranked.poses]
    return {
        "entry": entry,
        "mode": mode,
        "partial": f"interrupted: only stored ranks 1-{k} were scored (CPU share at nice 15)",
        "poses_from": source,
        **first_acceptable_ranks(rows, stored),
        "n_rescored": k,
        "cpu_s_per_pose_mean": round(float(np.mean([r["cpu_s"] for r in rows])), 1),
        "poses": rows,
        "settings": settings.model_dump(mode="json"),
        "mmgbsa": rs.mmgbsa_settings(settings).as_dict(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--entries", nargs="+", default=["3URF", "4GIQ", "3ME2"])
    p.add_argument("--modes", nargs="+", default=["restrained", "unrestrained"])
    p.add_argument("--top", type=int, default=10)
    p.add_argument(
        "--ranks",
        nargs="+",
        type=int,
        default=None,
        help="only these stored ranks (a share of a run for a second process; its "
        "checkpoint, ENTRY_MODE_ranks-R.checkpoint.json, merges into the run's)",
    )
    p.add_argument("--out", default=str(OUT))
    p.add_argument(
        "--summarise-partial",
        action="store_true",
        help="write ENTRY_MODE_partial.json from an interrupted run's checkpoint",
    )
    args = p.parse_args()
    out = Path(args.out)
    if args.summarise_partial:
        for entry in args.entries:
            for mode in args.modes:
                if (out / f"{entry}_{mode}.checkpoint.json").exists():
                    data = summarise_checkpoint(entry, mode, out)
                    write_json(out / f"{entry}_{mode}_partial.json", data)
                    print(entry, mode, "ranks 1 -", data["n_rescored"], "first acceptable "
                          "before/after:", data["first_acceptable_rank_before"],
                          data["first_acceptable_rank_after"], flush=True)  # fmt: skip
        return 0
    for entry in args.entries:
        for mode in args.modes:
            tag = "" if args.ranks is None else "_ranks-" + "-".join(map(str, args.ranks))
            path = out / f"{entry}_{mode}{tag}.json"
            if path.exists():
                done = json.loads(path.read_text())
                if done["settings"]["mmgbsa_rescore_top"] != args.top:
                    raise SystemExit(f"{path}: stored with other settings (--top); remove it")
                print(path.name, "done", flush=True)
                continue
            data = run_case(entry, mode == "restrained", args.top, out, args.ranks, tag)
            write_json(path, data)
            (out / f"{entry}_{mode}{tag}.checkpoint.json").unlink()
            print(path.name, "first acceptable rank before/after:",
                  data["first_acceptable_rank_before"], data["first_acceptable_rank_after"],
                  "CPU s/pose:", data["cpu_s_per_pose_mean"], flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
