"""RANKL axis scores with uncertainties and hot-spot tables (issue 15), CPU-sized.

    python gpu_bench/rankl_hotspots.py --entry 3URF --out gpu_bench/results/accuracy/rankl_3urf.json

Preparation: rankbind.preparation.prepare(interface assembly, protonation="propka",
relax="implicit"). Ensemble: EnsembleSettings (restrained OBC2 replicas, iid bootstrap).
Scoring: MM/GBSA on the interface-trimmed complex (``--trim`` nm), JAX engine with
per-residue decomposition, for each GB model at ε_in = 1 with κ = 0; ε_in = 2 and 4 follow
exactly per frame (rankbind.energies.variants.rescale). Alanine scan: every truncatable
interface residue (heavy atom within 0.45 nm of the partner), paired frames, OpenMM CPU
engine (no per-mutant JAX compilation).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
KCAL = 4.184
PARTNERS = {"3URF": ("RANKL", "OPG"), "4GIQ": ("RANKL", "RANK")}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entry", choices=sorted(PARTNERS), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--trim", type=float, default=1.0)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--md-steps", type=int, default=250)
    parser.add_argument("--gb", default="GBn2")
    args = parser.parse_args(argv)

    from rankbind.energies.alanine import alanine_scan, interface_residues, truncatable
    from rankbind.energies.bootstrap import mean_sem
    from rankbind.energies.ensembles import EnsembleSettings, sample
    from rankbind.energies.mmgbsa import MMGBSASettings, mmgbsa, selection_atoms, trim_residues
    from rankbind.energies.variants import rescale
    from rankbind.preparation import PreparationOptions, prepare
    from rankbind.structures import build_assembly

    receptor, ligand = PARTNERS[args.entry]
    cpu = {}
    t0 = time.process_time()
    assembly = build_assembly(args.entry, "interface")
    options = PreparationOptions(
        solvent="vacuum", protonation="propka", relax="implicit", relax_max_iterations=100
    )
    prepared = prepare(assembly, options)
    cpu["preparation"] = time.process_time() - t0
    top = prepared.topology
    rec = selection_atoms(top, prepared.chains, receptor)
    lig = selection_atoms(top, prepared.chains, ligand)
    ens = EnsembleSettings(n_frames=args.frames, md_steps=args.md_steps, minimise_iterations=100)
    t0 = time.process_time()
    frames, ens_record = sample(top, prepared.positions, ens)
    cpu["sampling"] = time.process_time() - t0
    keep = trim_residues(top, frames, rec, lig, args.trim)
    settings = MMGBSASettings(gb_model=args.gb, trim_nm=args.trim, n_bootstrap=1000)
    t0 = time.process_time()
    result = mmgbsa(top, frames, rec, lig, settings, decompose=True, keep_residues=keep)
    cpu["scoring_with_decomposition"] = time.process_time() - t0
    per_frame = [{k: float(v[f]) for k, v in result.delta.items()} for f in range(len(frames))]
    by_eps = {}
    for eps in (1.0, 2.0, 4.0):
        totals = np.array([sum(rescale(c, eps).values()) for c in per_frame])
        mean, sem, _ = mean_sem(totals, "iid", n_bootstrap=1000)
        by_eps[f"eps_in_{eps:g}"] = {
            "dG_kcal_per_mol": mean / KCAL,
            "sem_kcal_per_mol": sem / KCAL,
            "per_frame_kcal": (totals / KCAL).tolist(),
        }
    decomposition = result.decomposition.as_dict()
    rows = sorted(decomposition["per_residue"], key=lambda r: r["dG_kcal_per_mol"])
    # alanine scan of interface residues
    iface = [r for r in interface_residues(top, frames, rec, lig) if truncatable(top, r) is None]
    scan_settings = settings.replace(engine="openmm", platform="CPU", n_bootstrap=1000)
    t0 = time.process_time()
    wt = mmgbsa(top, frames, rec, lig, scan_settings, keep_residues=keep)
    _, scans = alanine_scan(
        top, frames, rec, lig, [[r] for r in iface if r in keep], scan_settings, wild_type=wt
    )
    cpu["alanine_scan"] = time.process_time() - t0
    residues = list(top.residues())
    side = {a.residue.index: ("ligand" if a.index in set(lig) else "receptor") for a in top.atoms()}
    table = [
        {
            "residue": s.label.replace("->ALA", ""),
            "partner": ligand if side[s.residues[0]] == "ligand" else receptor,
            "ddG_kcal_per_mol": s.ddg.mean / KCAL,
            "sem_kcal_per_mol": s.ddg.sem / KCAL,
            "hotspot_ge_1kcal": bool(s.ddg.mean / KCAL >= 1.0),
        }
        for s in scans
    ]
    table.sort(key=lambda r: -r["ddG_kcal_per_mol"])
    out = {
        "entry": args.entry,
        "receptor": receptor,
        "ligand": ligand,
        "n_atoms": top.getNumAtoms(),
        "trimmed_residues": len(keep),
        "dG_bind_by_solute_dielectric": by_eps,
        "score_kind": result.score_kind,
        "mmgbsa_settings": settings.as_dict(),
        "ensemble": ens_record,
        "preparation": {
            "protonation_flips": [
                r["label"] for r in prepared.metadata["protonation"]["residues"] if r["flipped"]
            ],
            "protonation_states_not_default": {
                r["label"]: r["state"]
                for r in prepared.metadata["protonation"]["residues"]
                if r["state"] not in (r["name"], "HIE")
            },
            "relaxation": prepared.metadata["relaxation"],
            "audit_counts": {
                k: len(v)
                for k, v in prepared.metadata["audit"].items()
                if isinstance(v, list) and k != "flagged_residues"
            },
        },
        "per_residue_top20_kcal": rows[:20],
        "alanine_scan": table,
        "alanine_scan_settings": "Cb truncation, paired frames, OpenMM CPU engine, "
        f"{args.gb} eps_in=1, trim {args.trim} nm",
        "n_residues_in_residue_table": len(residues),
        "cpu_seconds": cpu,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=float))
    print("wrote", args.out, cpu)


if __name__ == "__main__":
    main()
