"""RANKL axis ΔG with uncertainties and hot-spot tables for both partners (issue 15), CPU-sized.

    python gpu_bench/rankl_hotspots.py                      # 3URF and 4GIQ, then SUMMARY.md
    python gpu_bench/rankl_hotspots.py --entry 3URF         # one complex

Per complex (the ``interface`` assembly: one RANKL groove, two protomers + one receptor):

* preparation: rankbind.preparation.prepare, vacuum, PROPKA protonation + PDB2PQR flips
  (the replicas are restrained-minimised, so no separate relaxation);
* ensemble: rankbind.energies.ensembles.sample_trimmed, the residues within ``--trim`` nm of
  the partner, ``--replicas`` independent restrained OBC2 replicas (iid bootstrap);
* ΔG: interface-trimmed MM/GBSA (JAX engine), ε_in = 1 and κ = 0 components for GBn2 and
  OBC2, every fixed-ε_in variant by exact rescaling (rankbind.energies.variants); the
  headline is the variant the antibody-benchmark cross-validation fixed, ``obc2_e1_nonp0``;
* per-residue contributions (both partners) and the alanine scan of every truncatable
  interface residue of both partners (heavy atom within 0.45 nm of the other side; Cβ
  truncation on paired replicas, OpenMM CPU engine, GBn2 components), in the variant the
  AB-Bind ΔΔG cross-validation fixed, ``gbn2_e4_nonp0``, beside ``gbn2_e1`` and
  ``gbn2_eres``. Hot spot: ΔΔG ≥ 1 kcal/mol.

One JSON per complex in ``gpu_bench/results/rankl_hotspots/``, reused only under identical
settings; ``SUMMARY.md`` is rebuilt from them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "gpu_bench" / "results" / "rankl_hotspots"
KCAL = 4.184
PARTNERS = {"3URF": ("RANKL", "OPG"), "4GIQ": ("RANKL", "RANK")}
# the variants fixed by the benchmark CV: the affinity / ddg benchmarks' defaults
from rankbind.settings import AFFINITY_VARIANT as DG_CHOSEN  # noqa: E402
from rankbind.settings import DDG_VARIANT as DDG_CHOSEN  # noqa: E402

DG_VARIANTS = (DG_CHOSEN, "obc2_e1", "gbn2_e1", "gbn2_e4_nonp0")
DDG_VARIANTS = (DDG_CHOSEN, "gbn2_e1", "gbn2_eres")
CALIBRATION = {  # linear calibrations fitted on all development rows (the CV's final fit)
    "dG": "gpu_bench/results/accuracy/affinity_relaxed_variants/results.json",
    "ddG": "gpu_bench/results/accuracy/ddg_symmetric/results.json",
}


def calibrations() -> dict:
    """{"dG"|"ddG": {"slope", "offset", "loco_rmse", "n", "source"}} of the chosen variants:
    experiment ≈ slope · score + offset (kcal/mol), fitted on every development row by the
    benchmark (``fit_all_rows``); ``loco_rmse``: out-of-fold RMSE of the same model."""
    out = {}
    for kind, variant in (("dG", DG_CHOSEN), ("ddG", DDG_CHOSEN)):
        data = json.loads((ROOT / CALIBRATION[kind]).read_text())["summary"]["variants"]
        data = data if kind == "dG" else data["single_alanine"]
        block = data["by_variant"][variant]
        fit = block["loco_calibrated"]["fit_all_rows"]
        figures = block["loco_calibrated"]["figures"]
        out[kind] = {
            "variant": variant,
            "slope": fit["weights"][0],
            "offset": fit["offset"],
            "loco_rmse": figures["rmse"]["value"],
            "n": figures["n"],
            "source": CALIBRATION[kind],
            "nested_cv_final_choice": data["nested_selection"]["final_choice"],
        }
        if kind == "ddG":
            out[kind]["hotspots"] = block["loco_calibrated"]["hotspots"]
    return out


def settings_record(args) -> tuple[dict, tuple]:
    from rankbind.energies.ensembles import EnsembleSettings
    from rankbind.energies.variants import settings_for
    from rankbind.preparation import PreparationOptions

    prep = PreparationOptions(solvent="vacuum", protonation="propka", relax="none")
    ens = EnsembleSettings(
        n_frames=args.replicas, md_steps=args.md_steps, minimise_iterations=args.minimise
    )
    mm = settings_for("gbn2_e1", trim_nm=args.trim, n_bootstrap=1000, uncertainty="iid")
    record = {
        "assembly": "interface (one groove: two RANKL protomers + one receptor)",
        "preparation": prep.model_dump(),
        "ensemble": dict(vars(ens)),
        "mmgbsa": mm.as_dict(),
        "evaluated": "eps_in = 1, kappa = 0 components of GBn2 and OBC2; variants rescaled",
        "dG_variants": list(DG_VARIANTS),
        "ddG_variants": list(DDG_VARIANTS),
        "alanine": "every truncatable residue of either partner with a heavy atom within "
        "0.45 nm of the other (rankbind.energies.alanine.interface_residues), Cb truncation, "
        "paired replicas, OpenMM CPU engine",
    }
    return json.loads(json.dumps(record, default=str)), (prep, ens, mm)


def run_complex(entry: str, record: dict, objects) -> dict:
    from openmm import unit

    from rankbind.analysis.receptor_energies import estimate, residue_components, variant_values
    from rankbind.energies.alanine import alanine_scan, interface_residues, truncatable
    from rankbind.energies.ensembles import sample_trimmed
    from rankbind.energies.mmgbsa import (
        COMPONENTS,
        ComplexModel,
        mmgbsa,
        selection_atoms,
        trim_residues,
    )
    from rankbind.energies.variants import VARIANTS, variant_total
    from rankbind.preparation import prepare
    from rankbind.structures import build_assembly

    prep, ens, mm = objects
    receptor, ligand = PARTNERS[entry]
    cpu: dict[str, float] = {}
    t0 = time.process_time()
    prepared = prepare(build_assembly(entry, "interface"), prep)
    cpu["preparation"] = time.process_time() - t0
    full = prepared.topology
    x = np.asarray(prepared.positions.value_in_unit(unit.nanometer))
    rec = selection_atoms(full, prepared.chains, receptor)
    lig = selection_atoms(full, prepared.chains, ligand)
    t0 = time.process_time()
    trimmed = sample_trimmed(full, x, rec, lig, mm.trim_nm, ens)
    top, frames = trimmed.topology, trimmed.frames
    cpu["sampling"] = time.process_time() - t0
    print(f"{entry}: {len(frames)} replicas of {len(trimmed.atoms)} atoms, {cpu}", flush=True)

    t0 = time.process_time()
    comps = {}
    keep = trim_residues(top, frames, trimmed.receptor, trimmed.ligand, mm.trim_nm)
    for gb in ("GBn2", "OBC2"):
        model = ComplexModel(top, trimmed.receptor, trimmed.ligand, mm.replace(gb_model=gb), keep)
        residues, comps[gb] = residue_components(model, frames)  # (F, R, C) kJ/mol
    cpu["mmgbsa_decomposition"] = time.process_time() - t0
    dg = {}
    for variant in DG_VARIANTS:
        values = variant_values(comps[VARIANTS[variant]["gb_model"]], variant)  # (F, R)
        dg[variant] = estimate(values.sum(axis=1))
    chosen = variant_values(comps["GBn2"], DDG_CHOSEN)
    names = {"receptor": receptor, "ligand": ligand}
    per_residue = sorted(
        (
            {
                "residue": f"{name}{number}/{chain}",
                "partner": names[side],
                **estimate(chosen[:, k]),
            }
            for k, (chain, number, name, side) in enumerate(residues)
        ),
        key=lambda r: r["kcal_per_mol"],
    )
    per_residue = [r for r in per_residue if abs(r["kcal_per_mol"]) >= 0.5]
    print(f"{entry}: ΔG {DG_CHOSEN} {dg[DG_CHOSEN]['kcal_per_mol']:.1f} kcal/mol", flush=True)

    t0 = time.process_time()
    contact = interface_residues(top, frames, trimmed.receptor, trimmed.ligand)
    scanned = [r for r in contact if r in set(keep) and truncatable(top, r) is None]
    scan = mm.replace(engine="openmm", platform=ens.platform)
    wt = mmgbsa(top, frames, trimmed.receptor, trimmed.ligand, scan, keep_residues=keep)
    _, scans = alanine_scan(
        top, frames, trimmed.receptor, trimmed.ligand, [[r] for r in scanned], scan, wild_type=wt
    )
    cpu["alanine_scan"] = time.process_time() - t0
    all_residues = list(top.residues())
    lig_set = set(trimmed.ligand)
    side = {a.residue.index: "ligand" if a.index in lig_set else "receptor" for a in top.atoms()}
    table = []
    for r, s in zip(scanned, scans, strict=True):
        res = all_residues[r]
        row = {"residue": f"{res.name}{res.id}/{res.chain.id}", "partner": names[side[r]]}
        for variant in DDG_VARIANTS:
            per_frame = [
                variant_total(
                    {c: float(s.mutant.delta[c][f] - wt.delta[c][f]) for c in COMPONENTS},
                    variant,
                    res.name,
                )
                for f in range(len(frames))
            ]
            row[variant] = estimate(np.array(per_frame))
        table.append(row)
    table.sort(key=lambda r: -r[DDG_CHOSEN]["kcal_per_mol"])
    return {
        "entry": entry,
        "receptor": receptor,
        "ligand": ligand,
        "label": "computed (crystal structure, replica ensemble)",
        "settings": record,
        "n_atoms_groove": full.getNumAtoms(),
        "n_atoms_sampled": len(trimmed.atoms),
        "n_trimmed_residues": len(keep),
        "ensemble": {
            k: trimmed.record[k] for k in ("heavy_atom_rmsd_to_start_nm", "sampler", "uncertainty")
        },
        "protonation_states_not_default": {
            r["label"]: r["state"]
            for r in prepared.metadata["protonation"]["residues"]
            if r["state"] not in (r["name"], "HIE")
        },
        "protonation_flips": [
            r["label"] for r in prepared.metadata["protonation"]["residues"] if r["flipped"]
        ],
        "dG": dg,
        "per_residue_abs_ge_0p5": per_residue,
        "alanine_scan": table,
        "cpu_seconds": cpu | {"total": sum(cpu.values())},
    }


def markdown(records: dict[str, dict]) -> str:
    def f(e: dict) -> str:
        return f"{e['kcal_per_mol']:.1f} ± {e['sem_kcal_per_mol']:.1f}"

    cal = calibrations()
    c_dg, c_ddg = cal["dG"], cal["ddG"]

    def calibrated(e: dict, c: dict) -> float:
        return c["slope"] * e["kcal_per_mol"] + c["offset"]

    first = next(iter(records.values()))
    ens = first["settings"]["ensemble"]
    hs = c_ddg["hotspots"]
    lines = [
        "# RANKL axis: ΔG and hot spots on replica ensembles (computed)",
        "",
        f"Settings: interface assembly (one groove), vacuum preparation with PROPKA; "
        f"{ens['n_frames']} restrained OBC2 replicas ({ens['md_steps']} steps, then "
        f"{ens['minimise_iterations']} minimisation iterations) of the residues within "
        f"{first['settings']['mmgbsa']['trim_nm']} nm of the partner; MM/GBSA variants fixed "
        f"by the benchmark cross-validation (ΔG {DG_CHOSEN}, ΔΔG and per-residue {DDG_CHOSEN}); "
        "mean ± bootstrap s.e. over replicas, kcal/mol. Raw MM/GBSA values are "
        "enthalpy-like scores, not free energies. 'Calibrated': the benchmark's linear "
        f"calibration of the chosen variant, experiment ≈ {c_dg['slope']:.4f} · ΔG "
        f"{c_dg['offset']:+.2f} (antibody benchmark, n {c_dg['n']}, out-of-fold RMSE "
        f"{c_dg['loco_rmse']:.2f}) and ≈ {c_ddg['slope']:.3f} · ΔΔG {c_ddg['offset']:+.2f} "
        f"(AB-Bind single alanines, n {c_ddg['n']}, out-of-fold RMSE "
        f"{c_ddg['loco_rmse']:.2f}); that RMSE, not the sampling s.e., is the uncertainty "
        "of a calibrated value. Hot spot: calibrated ΔΔG ≥ 1, the classifier whose "
        f"out-of-fold precision {hs['precision']:.2f} and recall {hs['recall']:.2f} "
        f"(ROC AUC {hs['roc_auc']:.2f}) were measured on AB-Bind. Sources: "
        f"{c_dg['source']}, {c_ddg['source']}.",
        "",
        "| complex | calibrated ΔG | " + " | ".join(f"ΔG {v}" for v in DG_VARIANTS) + " | CPU s |",
        "|---|---|" + "---|" * (len(DG_VARIANTS) + 1),
    ]
    for entry, r in records.items():
        cells = [f(r["dG"][v]) for v in DG_VARIANTS]
        lines.append(
            f"| {entry} ({r['ligand']}) | {calibrated(r['dG'][DG_CHOSEN], c_dg):.1f} ± "
            f"{c_dg['loco_rmse']:.1f} | "
            + " | ".join(cells)
            + f" | {r['cpu_seconds']['total']:.0f} |"
        )
    for entry, r in records.items():
        lines += [
            "",
            f"## {entry}: alanine scan, RANKL and {r['ligand']} ({len(r['alanine_scan'])} "
            "interface residues)",
            "",
            "| residue | partner | calibrated ΔΔG | "
            + " | ".join(f"ΔΔG {v}" for v in DDG_VARIANTS)
            + " | hot spot |",
            "|---|---|---|" + "---|" * (len(DDG_VARIANTS) + 1),
        ]
        for row in r["alanine_scan"]:
            cells = [f(row[v]) for v in DDG_VARIANTS]
            value = calibrated(row[DDG_CHOSEN], c_ddg)
            lines.append(
                f"| {row['residue']} | {row['partner']} | {value:.1f} | "
                + " | ".join(cells)
                + f" | {'yes' if value >= 1.0 else ''} |"
            )
        lines += [
            "",
            f"Per-residue contributions ({DDG_CHOSEN}, raw, |value| ≥ 0.5 kcal/mol):",
            "",
            "| residue | partner | ΔG contribution |",
            "|---|---|---|",
        ]
        lines += [
            f"| {p['residue']} | {p['partner']} | {f(p)} |" for p in r["per_residue_abs_ge_0p5"]
        ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entry", nargs="*", choices=sorted(PARTNERS))
    parser.add_argument("--replicas", type=int, default=6)
    parser.add_argument("--md-steps", type=int, default=250)
    parser.add_argument("--minimise", type=int, default=30, help="iterations per replica")
    parser.add_argument("--trim", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--restart", action="store_true")
    args = parser.parse_args(argv)

    from rankbind.benchmark.runner import conflicts
    from rankbind.fileio import write_json, write_text

    record, objects = settings_record(args)
    records = {}
    for entry in args.entry or list(PARTNERS):
        path = args.out / f"{entry}.json"
        if path.is_file() and not args.restart:
            done = json.loads(path.read_text())
            if conflicts(done["settings"], record):  # a field added since is no conflict
                sys.exit(f"{path}: computed under other settings; rerun with --restart")
            records[entry] = done
            continue
        t0 = time.process_time()
        write_json(path, run_complex(entry, record, objects))
        records[entry] = json.loads(path.read_text())
        print(f"{entry}: done in {time.process_time() - t0:.0f} CPU s -> {path}", flush=True)
    write_text(args.out / "SUMMARY.md", markdown(records))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
