"""Same-species OPG versus RANK on RANKL (issue 18, item 2), CPU-sized, resumable per complex.

    python gpu_bench/rankl_axis.py --platform CUDA            # every complex, then the summary
    python gpu_bench/rankl_axis.py --only 3URF                # one complex (timing)
    python gpu_bench/rankl_axis.py --summary-only             # recombine committed records

Complexes (one RANKL groove each: two RANKL protomers + one receptor, ``interface``):
human OPG 3URF (crystal) vs human RANK threaded on 4GIQ and on 3ME2 (models); mouse RANK
4GIQ and 3ME2 (crystals) vs mouse OPG threaded on 3URF (model).

Per complex: preparation (rankbind.preparation.prepare: vacuum, PROPKA protonation; no
separate relaxation, the replicas are restrained-minimised); the groove trimmed to the
residues within ``--trim`` nm of the partner (mmgbsa.trim_residues), and an ensemble of
independent restrained-minimised replicas of that trimmed complex
(rankbind.energies.ensembles.sample, mode "replicas", OBC2, templates without external
bonds; heavy-atom restraints hold the cut ends: 4 replicas of the whole 7,500-atom groove,
100 steps + 100 minimisation iterations each, had not finished after 5.2 CPU-min on this
shared 2-core machine, too much for six complexes), then

* PRODIGY IC-NIS on every replica (rankbind.analysis.prodigy.predict_frames);
* interface-trimmed MM/GBSA (JAX engine), ε_in = 1, κ = 0 components evaluated for GBn2
  and for OBC2, every fixed-ε_in variant derived exactly by dielectric rescaling
  (rankbind.energies.variants), per-residue decomposition for each
  (rankbind.analysis.receptor_energies.residue_components). The headline variants are the
  ones the benchmark cross-validation fixed (gpu_bench/ACCURACY.md): ``obc2_e1_nonp0`` for
  ΔG (antibody benchmark, nested leave-one-complex-out, chosen in 24/24 folds) and
  ``gbn2_e4_nonp0`` for ΔΔG and per-residue contributions (AB-Bind alanines, 8/8 folds);
* alanine scan of the RANKL residues whose footprint call is resolved as receptor-specific
  in footprints_same_species.json, plus the two resolved shared residues burying the most
  SASA (CPU-sized), each number truncated on both
  protomers of the groove together (the homotrimer mutant), paired replicas, OpenMM CPU engine
  (GBn2 components), ΔΔG for ``gbn2_e4_nonp0``, ``gbn2_e1`` and ``gbn2_eres`` (residue-type ε_in).

One JSON per complex in ``gpu_bench/results/rankl_axis/complexes/``; a finished complex
is reused only under identical settings (else the run stops: use --restart). The summary
(``rankl_axis.json``, ``SUMMARY.md``, ``per_residue.png``) and the report section
(``structures/models/species_complexes/same_species_energies.report.json`` + PNG) are
rebuilt from those records.
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
OUT = ROOT / "gpu_bench" / "results" / "rankl_axis"
KCAL = 4.184
# entry -> (species, receptor molecule, kind, label)
# (in run order: one structure per complex first, the second RANK structures last)
COMPLEXES = {
    "3URF": ("human", "OPG", "crystal", "human OPG 3URF crystal"),
    "HUMAN_RANK_4GIQ": ("human", "RANK", "model", "human RANK model on 4GIQ"),
    "4GIQ": ("mouse", "RANK", "crystal", "mouse RANK 4GIQ crystal"),
    "MOUSE_OPG_3URF": ("mouse", "OPG", "model", "mouse OPG model on 3URF"),
    "HUMAN_RANK_3ME2": ("human", "RANK", "model", "human RANK model on 3ME2"),
    "3ME2": ("mouse", "RANK", "crystal", "mouse RANK 3ME2 crystal"),
}
FOOTPRINTS = "structures/models/species_complexes/footprints_same_species.json"
SCAN_SHARED = 2  # resolved shared residues scanned per species (largest buried SASA)
EVALUATED = ("gbn2_e1", "obc2_e1")  # ε_in = 1, κ = 0 components of both GB models
# the variants fixed by the benchmark CV: the affinity / ddg benchmarks' defaults
from rankbind.settings import AFFINITY_VARIANT as DG_CHOSEN  # noqa: E402
from rankbind.settings import DDG_VARIANT as DDG_CHOSEN  # noqa: E402

DG_VARIANTS = (DG_CHOSEN, DDG_CHOSEN, "gbn2_e1", "gbn2_e4")
DDG_VARIANTS = (DDG_CHOSEN, "gbn2_e1", "gbn2_eres")
BENCHMARK = {  # the calibration runs (PROPKA, 50-iteration restrained relax, 1 nm trim, κ 0)
    "dG": "gpu_bench/results/accuracy/affinity_relaxed_variants/results.json",
    "ddG": "gpu_bench/results/accuracy/ddg_symmetric/results.json",
}


def settings_record(args) -> dict:
    from rankbind.energies.ensembles import EnsembleSettings
    from rankbind.energies.variants import settings_for
    from rankbind.preparation import PreparationOptions

    prep = PreparationOptions(
        solvent="vacuum", protonation="propka", relax="none"
    )  # the replicas are restrained-minimised anyway
    ens = EnsembleSettings(
        n_frames=args.replicas,
        md_steps=args.md_steps,
        minimise_iterations=args.minimise,
        seed=args.seed,
        platform=args.platform,
    )
    mm = settings_for(EVALUATED[0], trim_nm=args.trim, n_bootstrap=1000, uncertainty="iid")
    return {
        "assembly": "interface (one groove: two RANKL protomers + one receptor)",
        "preparation": prep.model_dump(),
        "ensemble": {k: v for k, v in vars(ens).items()},
        "mmgbsa_evaluated_variants": list(EVALUATED),
        "dG_chosen_variant": DG_CHOSEN,
        "ddG_chosen_variant": DDG_CHOSEN,
        "mmgbsa": mm.as_dict(),
        "dG_variants": list(DG_VARIANTS),
        "ddG_variants": list(DDG_VARIANTS),
        "alanine": {
            "residues": "RANKL residues whose OPG/RANK footprint call is resolved as "
            f"receptor-specific ({FOOTPRINTS}: resolved_opg_only, resolved_rank_only) and the "
            f"{SCAN_SHARED} resolved shared residues burying the most SASA, "
            "truncatable (not GLY/PRO/ALA), inside the trim; one mutant per residue number, "
            "truncated on every RANKL protomer of the groove inside the trim",
            "scanned": {sp: scan_numbers(sp) for sp in ("human", "mouse")},
            "engine": "openmm",
            "platform": args.platform,
        },
        "sampled_system": f"residues within {mm.trim_nm} nm of the partner in the prepared "
        "groove (cut chains, templates without external bonds, heavy atoms restrained)",
        "prodigy": "IC-NIS on every replica (the full groove with the replica's interface "
        "coordinates), groups RANKL chains vs receptor chain, 298.15 K",
    }, (prep, ens, mm)


def scan_numbers(species: str, n_shared: int = SCAN_SHARED) -> list[int]:
    """RANKL residues scanned: those whose footprint call is resolved as receptor-specific
    in footprints_same_species.json (the same at every cutoff and in every structure),
    and the ``n_shared`` resolved shared residues that bury the most SASA (either receptor);
    the same residues in both receptors' complexes of a species."""
    data = json.loads((ROOT / FOOTPRINTS).read_text())[species]
    rows = {r["rankl_residue"]: r for r in data["residues"]}
    buried = {
        n: max(rows[n]["buried_sasa_opg_angstrom2"], rows[n]["buried_sasa_rank_angstrom2"])
        for n in data["resolved_shared"]
    }
    shared = sorted(buried, key=lambda n: (-buried[n], n))[:n_shared]
    return sorted(data["resolved_opg_only"] + data["resolved_rank_only"] + shared)


def run_complex(entry: str, args, record: dict, objects) -> dict:
    import mdtraj
    from openmm import unit

    from rankbind.analysis.prodigy import predict_frames
    from rankbind.analysis.receptor_energies import (
        by_rankl_number,
        estimate,
        residue_components,
        variant_values,
    )
    from rankbind.energies.alanine import alanine_scan, truncatable
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

    prep_options, ens, mm = objects
    species, receptor, kind, label = COMPLEXES[entry]
    cpu: dict[str, float] = {}
    t0 = time.process_time()
    prepared = prepare(build_assembly(entry, "interface"), prep_options)
    cpu["preparation"] = time.process_time() - t0
    print(f"{entry}: prepared, {cpu}", flush=True)
    full = prepared.topology
    x_full = np.asarray(prepared.positions.value_in_unit(unit.nanometer))
    rankl_full = selection_atoms(full, prepared.chains, "RANKL")
    partner_full = selection_atoms(full, prepared.chains, receptor)
    # the interface-trimmed complex is what is sampled and scored
    t0 = time.process_time()
    trimmed = sample_trimmed(full, x_full, rankl_full, partner_full, mm.trim_nm, ens)
    top, atoms, frames = trimmed.topology, trimmed.atoms, trimmed.frames
    rankl, partner, ens_record = trimmed.receptor, trimmed.ligand, trimmed.record
    cpu["sampling"] = time.process_time() - t0
    print(f"{entry}: {len(frames)} replicas of {len(atoms)} atoms sampled, {cpu}", flush=True)

    # PRODIGY on every replica: the full groove with the replica's interface coordinates
    t0 = time.process_time()
    full_frames = np.repeat(x_full[None], len(frames), axis=0)
    full_frames[:, atoms] = frames
    traj = mdtraj.Trajectory(full_frames, mdtraj.Topology.from_openmm(full))
    atom_residue = np.array([a.residue.index for a in full.atoms()])
    groups = [np.unique(atom_residue[rankl_full]), np.unique(atom_residue[partner_full])]
    prodigy_rows, prodigy_summary = predict_frames(traj, groups, ["RANKL", receptor])
    prodigy = estimate(np.array([r.dg_kj_per_mol for r in prodigy_rows]))
    prodigy["n_contacts"] = [r.n_contacts for r in prodigy_rows]
    prodigy["kd_molar_of_mean_dg"] = prodigy_summary["kd_molar_of_mean_dg"]
    cpu["prodigy"] = time.process_time() - t0
    atom_residue = np.array([a.residue.index for a in top.atoms()])

    # interface-trimmed MM/GBSA, per-residue components at eps_in 1, kappa 0, both GB models
    t0 = time.process_time()
    keep = trim_residues(top, frames, rankl, partner, mm.trim_nm)
    comps = {}
    for gb in ("GBn2", "OBC2"):
        model = ComplexModel(top, rankl, partner, mm.replace(gb_model=gb), keep)
        residues, comps[gb] = residue_components(model, frames)  # (F, R, C) kJ/mol
    cpu["mmgbsa_decomposition"] = time.process_time() - t0
    dg = {"prodigy": prodigy}
    per_residue: dict = {}
    receptor_side: dict = {}
    for variant in DG_VARIANTS:
        values = variant_values(comps[VARIANTS[variant]["gb_model"]], variant)  # (F, R)
        dg[f"mmgbsa/{variant}"] = estimate(values.sum(axis=1))
        per_residue[variant] = {
            str(n): estimate(v) for n, v in sorted(by_rankl_number(residues, values).items())
        }
        partner_rows = by_rankl_number(residues, values, side="ligand")
        receptor_side[variant] = {str(n): estimate(v) for n, v in sorted(partner_rows.items())}
    print(f"{entry}: MM/GBSA {dg[f'mmgbsa/{DG_CHOSEN}']['kcal_per_mol']:.1f} kcal/mol", flush=True)

    # alanine scan of RANKL interface residues (homotrimer mutants, paired replicas)
    t0 = time.process_time()
    scan = mm.replace(engine="openmm", platform=ens.platform)
    residues_all = list(top.residues())
    rankl_residues = set(atom_residue[rankl].tolist())
    wanted = set(scan_numbers(species))
    numbers: dict[int, list[int]] = {}
    for r in sorted(set(keep) & rankl_residues):
        n = int(residues_all[r].id)
        if n in wanted and truncatable(top, r) is None:
            numbers.setdefault(n, []).append(r)
    wt = mmgbsa(top, frames, rankl, partner, scan, keep_residues=keep, progress=False)
    _, scans = alanine_scan(
        top, frames, rankl, partner, list(numbers.values()), scan, wild_type=wt, progress=True
    )
    alanine: dict = {v: {} for v in DDG_VARIANTS}
    for (number, group), s in zip(numbers.items(), scans, strict=True):
        name = residues_all[group[0]].name
        for variant in DDG_VARIANTS:
            per_frame = np.array(
                [
                    variant_total(
                        {c: float(s.mutant.delta[c][f] - wt.delta[c][f]) for c in COMPONENTS},
                        variant,
                        name,
                    )
                    for f in range(len(frames))
                ]
            )
            alanine[variant][str(number)] = estimate(per_frame) | {
                "residue": f"{name}{number}",
                "protomers": [residues_all[r].chain.id for r in group],
            }
    cpu["alanine_scan"] = time.process_time() - t0
    return {
        "entry": entry,
        "species": species,
        "receptor": receptor,
        "kind": kind,
        "label": label,
        "settings": record,
        "n_atoms_groove": full.getNumAtoms(),
        "n_atoms_sampled": top.getNumAtoms(),
        "n_trimmed_residues": len(keep),
        "ensemble": {
            k: ens_record[k] for k in ("heavy_atom_rmsd_to_start_nm", "sampler", "uncertainty")
        },
        "preparation": {
            "protonation_states_not_default": {
                r["label"]: r["state"]
                for r in prepared.metadata["protonation"]["residues"]
                if r["state"] not in (r["name"], "HIE")
            },
            "relaxation": prepared.metadata["relaxation"],
        },
        "dG": dg,
        "per_residue": per_residue,
        "receptor_per_residue": receptor_side,
        "alanine": alanine,
        "mmgbsa_components_kcal_per_mol": {
            gb: {c: float(x[..., k].sum(axis=1).mean() / KCAL) for k, c in enumerate(COMPONENTS)}
            for gb, x in comps.items()
        },
        "cpu_seconds": cpu | {"total": sum(cpu.values())},
    }


def nested_choice(variants: dict) -> dict:
    """The benchmark's nested-CV choice (final and per fold), recorded beside the fixed
    variant: the scripts score the fixed default, whichever the latest CV prefers."""
    n = variants["nested_selection"]
    return {"final": n["final_choice"], "per_fold": n["chosen_per_fold"]}


def benchmark_accuracy() -> dict:
    """The methods' measured accuracy from the committed calibration runs (antibody
    benchmark ΔG, AB-Bind single-alanine ΔΔG): {"dG": {estimator: figures}, "ddG":
    {variant: figures}}; estimators named as in the complex records (``prodigy``,
    ``mmgbsa/<variant>``)."""
    out: dict = {"dG": {}, "ddG": {}, "provenance": dict(BENCHMARK)}

    def figures(block: dict) -> dict:
        loco = block["loco_calibrated"]
        loco = loco.get("figures", loco)
        pearson = loco.get("pearson") or block["raw"]["pearson"]  # prodigy: fixed model
        fit = block["loco_calibrated"].get("fit_all_rows") or {
            "weights": [block["fit_all"]["slope"]]
        }
        return {
            "calibration_slope": fit["weights"][0],
            "n": loco["n"],
            "pearson": pearson["value"],
            "pearson_ci95_low": pearson["ci95"][0],
            "pearson_ci95_high": pearson["ci95"][1],
            "rmse_kcal": loco["rmse"]["value"],
            "kind": "out-of-fold predictions of a linear calibration fitted leaving out "
            "the complex predicted (raw Pearson r where no calibration is stored)",
        }

    data = json.loads((ROOT / BENCHMARK["dG"]).read_text())
    out["dG_nested_choice"] = nested_choice(data["summary"]["variants"])
    out["dG"]["prodigy"] = figures(data["summary"]["estimators"]["prodigy"])
    for variant in DG_VARIANTS:
        out["dG"][f"mmgbsa/{variant}"] = figures(data["summary"]["variants"]["by_variant"][variant])
    out["dG_settings"] = data["settings"]
    data = json.loads((ROOT / BENCHMARK["ddG"]).read_text())
    out["ddG_nested_choice"] = nested_choice(data["summary"]["variants"]["single_alanine"])
    by_variant = data["summary"]["variants"]["single_alanine"]["by_variant"]
    for variant in DDG_VARIANTS:
        block = by_variant[variant]
        out["ddG"][variant] = figures(block) | {
            "hotspot_roc_auc": block["loco_calibrated"]["hotspots"]["roc_auc"]
        }
    out["ddG_settings"] = data["settings"]
    out["note"] = (
        "the benchmark runs share this run's MM/GBSA physics (PROPKA protonation, 1 nm trim, "
        "κ 0, ε_in = 1 components rescaled) but score one relaxed crystal structure per "
        "complex (50 restrained minimisation iterations), where this run averages replicas"
    )
    return out


def summarise(records: dict[str, dict]) -> dict:
    from rankbind.analysis.receptor_energies import compare_species

    footprints = json.loads((ROOT / FOOTPRINTS).read_text())
    bench = benchmark_accuracy()
    out = {
        "label": "computed (this script; human RANK and mouse OPG are threaded MODELS)",
        "settings": next(iter(records.values()))["settings"],
        "benchmark_accuracy": bench,
        "complexes": {
            e: {
                "label": r["label"],
                "kind": r["kind"],
                "dG": {
                    k: {
                        x: v[x]
                        for x in ("kcal_per_mol", "sem_kcal_per_mol", "per_replica_kcal_per_mol")
                    }
                    for k, v in r["dG"].items()
                },  # fmt: skip
                "cpu_seconds": r["cpu_seconds"],
                "n_trimmed_residues": r["n_trimmed_residues"],
            }
            for e, r in records.items()
        },
        "cpu_seconds_total": sum(r["cpu_seconds"]["total"] for r in records.values()),
        "not_run": [COMPLEXES[e][3] for e in COMPLEXES if e not in records],
        "species": {},
    }
    for species in ("human", "mouse"):
        opg = [r for r in records.values() if r["species"] == species and r["receptor"] == "OPG"]
        rank = [r for r in records.values() if r["species"] == species and r["receptor"] == "RANK"]
        if opg and rank:
            out["species"][species] = compare_species(opg, rank, footprints[species], bench)
    return out


def markdown(summary: dict) -> str:
    """SUMMARY.md: the report section (rankbind.analysis.report_sections) as Markdown."""
    from rankbind.analysis.report_sections import same_species_energies

    section = same_species_energies(summary)
    lines = [f"# {section['title']}", "", f"Label: {section['label']}.", ""]
    for table in section["tables"]:
        lines += [f"*{table['caption']}*", ""]
        lines.append("| " + " | ".join(table["header"]) + " |")
        lines.append("|" + "---|" * len(table["header"]))
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table["rows"]]
        lines.append("")
    lines += [f"- {n}" for n in section["notes"]]
    lines += ["", "![per-residue bars](per_residue.png)"]
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rankbind.fileio import atomic_open

    fig, axes = plt.subplots(2, 2, figsize=(13, 7.5), squeeze=False)
    for row, species in enumerate(("human", "mouse")):
        block = summary["species"].get(species)
        if block is None:
            continue
        for col, (key, title) in enumerate(
            (
                (f"per_residue/{DDG_CHOSEN}", f"per-residue ΔG ({DDG_CHOSEN})"),
                (f"alanine/{DDG_CHOSEN}", f"alanine ΔΔG ({DDG_CHOSEN})"),
            )
        ):
            ax = axes[row][col]
            rows = [r for r in block["residues"].get(key, []) if "OPG_kcal_per_mol" in r]
            if col == 0:  # the residues that matter: |value| >= 0.5 for either receptor
                rows = [
                    r for r in rows if max(abs(r["OPG_kcal_per_mol"]), abs(r["RANK_kcal_per_mol"])) >= 0.5
                ]  # fmt: skip
            x = np.arange(len(rows))
            for k, (rec, colour) in enumerate((("OPG", "tab:orange"), ("RANK", "tab:blue"))):
                ax.bar(
                    x + (k - 0.5) * 0.4,
                    [r[f"{rec}_kcal_per_mol"] for r in rows],
                    0.4,
                    yerr=[2 * r[f"{rec}_sem"] for r in rows],
                    color=colour,
                    label=rec,
                    capsize=2,
                )
            ax.set_xticks(x, [str(r["rankl_residue"]) for r in rows], rotation=90, fontsize=7)
            ax.axhline(0, color="k", lw=0.5)
            ax.set_title(f"{species} RANKL: {title}", fontsize=10)
            ax.set_ylabel("kcal/mol")
            ax.legend(fontsize=8)
    fig.suptitle(
        "OPG vs RANK on same-species RANKL (computed; bars: mean over structures, ±2 s.e.)"
    )
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(COMPLEXES))
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--md-steps", type=int, default=250)
    parser.add_argument("--minimise", type=int, default=100, help="iterations per replica")
    parser.add_argument(
        "--platform", default="CPU", help="OpenMM platform of sampling and the alanine scan"
    )
    parser.add_argument("--trim", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--restart", action="store_true", help="recompute finished complexes")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args(argv)

    from rankbind.benchmark.runner import conflicts
    from rankbind.fileio import write_json, write_text

    record, objects = settings_record(args)
    comparable = json.loads(json.dumps(record, default=str))
    records = {}
    for entry in args.only or list(COMPLEXES):
        path = args.out / "complexes" / f"{entry}.json"
        if path.is_file() and not args.restart:
            done = json.loads(path.read_text())
            if conflicts(done["settings"], comparable):  # a field added since is no conflict
                sys.exit(
                    f"{path}: computed under other settings; rerun with --restart to replace it"
                )
            records[entry] = done
            print(f"{entry}: reusing {path}", flush=True)
            continue
        if args.summary_only:
            continue
        t0 = time.process_time()
        result = run_complex(entry, args, comparable, objects)
        write_json(path, result)
        records[entry] = json.loads(path.read_text())
        print(f"{entry}: done in {time.process_time() - t0:.0f} CPU s -> {path}", flush=True)
    if not records:
        sys.exit("no complex records")
    summary = summarise(records)
    write_json(args.out / "rankl_axis.json", summary)
    write_text(args.out / "SUMMARY.md", markdown(summary))
    plot(summary, args.out / "per_residue.png")
    if summary["species"]:  # at least one species with both receptors
        from rankbind.analysis.report_sections import write_energy_section

        # the report's committed section only from the committed results folder
        section_dir = None if args.out.resolve() == OUT.resolve() else args.out
        write_energy_section(
            args.out / "rankl_axis.json", args.out / "per_residue.png", section_dir
        )
    print("wrote", args.out)


if __name__ == "__main__":
    main()
