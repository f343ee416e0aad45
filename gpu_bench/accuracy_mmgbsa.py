"""MM/GBSA accuracy on the development benchmarks (issue 15), a small self-contained loop.

    python gpu_bench/accuracy_mmgbsa.py abbind   --cache DIR [--pdb 1KTZ ...]
    python gpu_bench/accuracy_mmgbsa.py antibody --cache DIR [--case 1S78 ...]
    python gpu_bench/accuracy_mmgbsa.py summarize --cache DIR --out FILE.json

Per complex (cached as DIR/<set>/<id>.json, so runs can be split and resumed):
preparation = PDBFixer (missing heavy atoms; gaps NOT rebuilt), PROPKA/PDB2PQR protonation
at pH 7 with Asn/Gln/His flips (rankbind.protonation), OBC2 implicit-solvent relaxation
with heavy atoms restrained (1000 kJ/mol/nm², 100 L-BFGS iterations); scoring =
single-frame MM/GBSA of the interface-trimmed complex (residues within ``--trim`` nm of
the partner) at ε_in = 1, no salt, for GBn2 and OBC2, γ·SASA nonpolar. Per-component ΔG
(or ΔΔG for AB-Bind alanine truncations) are stored, so dielectric variants follow
exactly: with κ = 0 the GB energy is (1/ε_in − 1/ε_out)·(a geometry-only sum) and Coulomb
scales as 1/ε_in (:func:`rankbind.energies.variants.rescale`).

``summarize`` evaluates every named variant of :data:`rankbind.energies.variants.VARIANTS`
raw and calibrated with cross-validation by complex (rankbind.energies.calibration).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH = Path("/work/shared/benchmarks")
KCAL = 4.184


def _prepare(pdb_text: str, chains: set[str], relax_iterations: int = 100):
    from openmm import app
    from pdbfixer import PDBFixer

    from rankbind.platforms import cpu_platform as helper_platform
    from rankbind.protonation import apply_plan, audit, plan_protonation, relax_implicit

    t0 = time.process_time()
    lines = [
        ln
        for ln in pdb_text.splitlines()
        if ln.startswith(("ATOM", "TER")) and (len(ln) < 22 or ln[21] in chains)
    ]
    # drop alternate locations other than the first
    kept = [ln for ln in lines if not ln.startswith("ATOM") or ln[16] in " A"]
    fixer = PDBFixer(pdbfile=io.StringIO("\n".join(kept) + "\nEND\n"), platform=helper_platform())
    fixer.findMissingResidues()
    fixer.missingResidues = {}
    fixer.findNonstandardResidues()
    fixer.replaceNonstandardResidues()
    fixer.removeHeterogens(keepWater=False)
    fixer.findMissingAtoms()
    fixer.addMissingAtoms(seed=0)
    record = {}
    try:
        plan = plan_protonation(fixer.topology, fixer.positions, 7.0)
        positions, variants = apply_plan(fixer.topology, fixer.positions, plan)
        record["protonation"] = {
            "method": "propka+pdb2pqr",
            "n_flipped": sum(c.flipped for c in plan.choices),
            "states": {c.label: c.state for c in plan.choices if c.state != c.name},
        }
    except Exception as exc:  # recorded, then template protonation
        positions, variants = fixer.positions, None
        record["protonation"] = {"method": "template (PDB2PQR failed)", "error": str(exc)[:300]}
    modeller = app.Modeller(fixer.topology, positions)
    modeller.addHydrogens(
        app.ForceField("amber14-all.xml"), pH=7.0, variants=variants, platform=helper_platform()
    )
    relaxed, relax = relax_implicit(
        modeller.topology, modeller.positions, max_iterations=relax_iterations
    )
    report = audit(modeller.topology, relaxed)
    record["relax"] = relax
    record["audit"] = {
        "clashes": len(report["clashes"]),
        "polar_hh_contacts": len(report["polar_hh_contacts"]),
        "unsatisfied_buried_donors": len(report["unsatisfied_buried_donors"]),
    }
    record["cpu_s_preparation"] = time.process_time() - t0
    x = np.array(relaxed.value_in_unit(relaxed.unit))
    return modeller.topology, x, record


def _components(topology, frames, receptor, ligand, gb_model, trim, keep=None):
    from rankbind.energies.mmgbsa import MMGBSASettings, mmgbsa

    settings = MMGBSASettings(
        gb_model=gb_model, trim_nm=trim, engine="openmm", platform="CPU", n_bootstrap=100
    )
    result = mmgbsa(topology, frames, receptor, ligand, settings, keep_residues=keep)
    return {k: float(v.mean()) for k, v in result.delta.items()}


def _split_atoms(topology, chains_a: str, chains_b: str):
    rec = [a.index for a in topology.atoms() if a.residue.chain.id in chains_a]
    lig = [a.index for a in topology.atoms() if a.residue.chain.id in chains_b]
    return rec, lig


MUTATION = re.compile(r"^(\w):([A-Z])(-?\d+)([A-Za-z]?)([A-Z])$")
ONE = {
    "A": "ALA", "R": "ARG", "N": "ASN", "D": "ASP", "C": "CYS", "Q": "GLN", "E": "GLU",
    "G": "GLY", "H": "HIS", "I": "ILE", "L": "LEU", "K": "LYS", "M": "MET", "F": "PHE",
    "P": "PRO", "S": "SER", "T": "THR", "W": "TRP", "Y": "TYR", "V": "VAL",
}  # fmt: skip


def run_abbind(cache: Path, pdbs: list[str] | None, trim: float) -> None:
    from rankbind.energies.alanine import truncate_to_alanine
    from rankbind.energies.mmgbsa import trim_residues

    rows = list(csv.DictReader(open(BENCH / "ab_bind" / "ddg.csv")))
    alanine = [r for r in rows if "," not in r["Mutation"] and r["Mutation"].strip()[-1] == "A"]
    by_pdb: dict[str, list] = {}
    for r in alanine:
        by_pdb.setdefault(r["#PDB"], []).append(r)
    out_dir = cache / "abbind"
    out_dir.mkdir(parents=True, exist_ok=True)
    order = sorted(by_pdb, key=lambda p: (BENCH / "ab_bind" / "pdbs" / f"{p}.pdb").stat().st_size)
    for pdb in order:
        if pdbs and pdb not in pdbs:
            continue
        target = out_dir / f"{pdb}.json"
        if target.exists():
            continue
        partners = by_pdb[pdb][0]["Partners(A_B)"]
        chains_a, chains_b = partners.split("_")
        text = (BENCH / "ab_bind" / "pdbs" / f"{pdb}.pdb").read_text()
        t0 = time.process_time()
        topology, x, record = _prepare(text, set(chains_a + chains_b))
        rec, lig = _split_atoms(topology, chains_a, chains_b)
        frames = x[None]
        keep = trim_residues(topology, frames, rec, lig, trim)
        index = {
            (r.chain.id, r.id.strip(), (r.insertionCode or "").strip()): r
            for r in topology.residues()
        }
        print(pdb, "prepared", f"{time.process_time() - t0:.0f} s cpu", flush=True)
        wt = {g: _components(topology, frames, rec, lig, g, trim, keep) for g in ("GBn2", "OBC2")}
        t_wt = time.process_time() - t0
        mutants = []
        for row in by_pdb[pdb]:
            m = MUTATION.match(row["Mutation"].strip())
            entry = {"mutation": row["Mutation"], "ddg_exp": float(row["ddG(kcal/mol)"])}
            if m is None:
                entry["skipped"] = "unparsed mutation"
                mutants.append(entry)
                continue
            chain, wt_aa, num, icode, _ = m.groups()
            res = index.get((chain, num, icode))
            if res is None or res.name != ONE[wt_aa]:
                entry["skipped"] = (
                    f"residue not found or name differs ({getattr(res, 'name', None)})"
                )
                mutants.append(entry)
                continue
            entry["wt_residue"] = res.name
            entry["in_trim"] = res.index in keep
            if not entry["in_trim"]:
                entry["ddg_components"] = {g: {k: 0.0 for k in wt[g]} for g in wt}
                mutants.append(entry)
                continue
            try:
                mutant = truncate_to_alanine(topology, frames, [res.index])
            except Exception as exc:
                entry["skipped"] = str(exc)[:200]
                mutants.append(entry)
                continue
            mrec, mlig = mutant.atoms_from(rec), mutant.atoms_from(lig)
            comps = {}
            for g in ("GBn2", "OBC2"):
                mut = _components(mutant.topology, mutant.positions, mrec, mlig, g, trim, keep)
                comps[g] = {k: mut[k] - wt[g][k] for k in mut}
            entry["ddg_components"] = comps
            entry["wt_residue"] = res.name
            mutants.append(entry)
            print(pdb, row["Mutation"], f"{time.process_time() - t0:.0f} s cpu", flush=True)
        record.update(
            {
                "pdb": pdb,
                "partners": partners,
                "n_atoms": topology.getNumAtoms(),
                "trim_nm": trim,
                "trimmed_residues": len(keep),
                "dg_components_wt": wt,
                "mutants": mutants,
                "cpu_s_prep_and_wt": t_wt,
                "cpu_s_total": time.process_time() - t0,
            }
        )
        target.write_text(json.dumps(record, indent=1))
        print(pdb, f"{record['cpu_s_total']:.0f} s cpu", flush=True)


def run_antibody(cache: Path, cases: list[str] | None, trim: float) -> None:
    from rankbind.analysis import prodigy

    aff = {
        r["Case"]: float(r["ΔG (kcal/mol)"])
        for r in csv.DictReader(
            open(BENCH / "antibody_benchmark" / "affinities.tsv"), delimiter="\t"
        )
    }
    out_dir = cache / "antibody"
    out_dir.mkdir(parents=True, exist_ok=True)
    pdb_dir = BENCH / "antibody_benchmark" / "pdbs"
    order = sorted(aff, key=lambda c: (pdb_dir / f"{c}_r_b.pdb").stat().st_size)
    for case in order:
        if cases and case not in cases:
            continue
        target = out_dir / f"{case}.json"
        if target.exists():
            continue
        t0 = time.process_time()
        r_text = (pdb_dir / f"{case}_r_b.pdb").read_text()
        l_text = (pdb_dir / f"{case}_l_b.pdb").read_text()
        r_chains = {ln[21] for ln in r_text.splitlines() if ln.startswith("ATOM")}
        l_chains = {ln[21] for ln in l_text.splitlines() if ln.startswith("ATOM")}
        if r_chains & l_chains:  # rename clashing antigen chains
            free = [c for c in "ZYXWVUTSRQPONM" if c not in r_chains | l_chains]
            rename = {c: free.pop(0) for c in sorted(r_chains & l_chains)}
            l_text = "\n".join(
                ln[:21] + rename.get(ln[21], ln[21]) + ln[22:] if ln.startswith("ATOM") else ln
                for ln in l_text.splitlines()
            )
            l_chains = {rename.get(c, c) for c in l_chains}
        text = "\n".join(
            [ln for ln in r_text.splitlines() if ln.startswith("ATOM")]
            + ["TER"]
            + [ln for ln in l_text.splitlines() if ln.startswith("ATOM")]
        )
        try:
            topology, x, record = _prepare(text, r_chains | l_chains)
        except Exception as exc:
            target.write_text(json.dumps({"case": case, "error": str(exc)[:500]}))
            continue
        rec, lig = _split_atoms(topology, "".join(r_chains), "".join(l_chains))
        comps = {g: _components(topology, x[None], rec, lig, g, trim) for g in ("GBn2", "OBC2")}
        entry = {
            "case": case,
            "dg_exp": aff[case],
            "dg_components": comps,
            "n_atoms": topology.getNumAtoms(),
            "trim_nm": trim,
        }
        try:
            import mdtraj

            traj = mdtraj.Trajectory(x[None], mdtraj.Topology.from_openmm(topology))
            groups = [
                np.array([r.index for r in topology.residues() if r.chain.id in chains])
                for chains in (r_chains, l_chains)
            ]
            entry["prodigy_kcal"] = float(prodigy.predict(traj, groups).dg_kcal_per_mol)
        except Exception as exc:
            entry["prodigy_error"] = str(exc)[:200]
        record.update(entry)
        record["cpu_s_total"] = time.process_time() - t0
        target.write_text(json.dumps(record, indent=1, default=float))
        print(case, f"{record['cpu_s_total']:.0f} s cpu", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["abbind", "antibody", "summarize"])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--ids", nargs="*")
    parser.add_argument("--trim", type=float, default=1.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.what == "abbind":
        run_abbind(args.cache, args.ids, args.trim)
    elif args.what == "antibody":
        run_antibody(args.cache, args.ids, args.trim)
    else:
        from rankbind.energies.variants import summarize_cache

        summary = summarize_cache(args.cache)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=1, default=float))


if __name__ == "__main__":
    main()
