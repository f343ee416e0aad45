"""Benchmark: JAX MM/GBSA frames per second against the per-frame OpenMM Context loop.

Same machine, same frames, same System. One "frame" = energies of complex, receptor and
ligand (MM + GB polar; the nonpolar SASA term is identical for both engines and excluded).
Baselines: one OpenMM Context per component, setPositions + getState(getEnergy) per frame,
on the Reference (double precision, the accuracy reference) and CPU platforms. JAX time
excludes compilation, which is reported separately. Writes JSON with hardware and versions.

    python gpu_bench/bench_mmgbsa.py --system asu --frames 8 \
        --output gpu_bench/results/mmgbsa_cpu.json
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from hardware import cpu_model as _cpu_model  # noqa: E402
from hardware import gpu_names  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FRAGMENT = [("A", 179, 182), ("A", 237, 241), ("A", 200, 203), ("R", 68, 71), ("R", 114, 118)]


def prepare(kind: str):
    """(topology, positions nm, receptor atoms, ligand atoms) from 3URF."""
    import dataclasses

    from openmm import unit
    from pdbfixer import PDBFixer

    from rankbind.structures import build_assembly
    from rankbind.structures.pdbfile import format_atom

    if kind == "asu":  # RANKL protomer (chain A) + OPG (chain Z), observed residues only
        assembly = build_assembly("3URF", "asu")
        text = assembly.to_pdb_text()
        receptor_chains, ligand_chains = {"A"}, {"Z"}
    else:  # the 21-residue interface fragment of the tests
        assembly = build_assembly("3URF", "interface")
        lines = []
        for k, (chain, lo, hi) in enumerate(FRAGMENT):
            for atom in assembly.atoms:
                if atom.record == "ATOM" and atom.chain == chain and lo <= atom.resseq <= hi:
                    lines.append(format_atom(dataclasses.replace(atom, chain="ABCDE"[k]), 1))
            lines.append("TER")
        text = "\n".join(lines) + "\nEND\n"
        receptor_chains, ligand_chains = {"A", "B", "C"}, {"D", "E"}
    os.environ.setdefault("OPENMM_DEFAULT_PLATFORM", "CPU")
    fixer = PDBFixer(pdbfile=io.StringIO(text))
    fixer.removeHeterogens(False)
    fixer.findMissingResidues()
    fixer.missingResidues = {}  # 3URF's missing residues are at chain ends: drop, not model
    fixer.findMissingAtoms()
    fixer.addMissingAtoms()
    fixer.addMissingHydrogens(7.0)
    top = fixer.topology
    x = np.array(fixer.positions.value_in_unit(unit.nanometer))
    rec = [a.index for a in top.atoms() if a.residue.chain.id in receptor_chains]
    lig = [a.index for a in top.atoms() if a.residue.chain.id in ligand_chains]
    return top, x, rec, lig


def openmm_loop(model, frames, platform_name: str) -> tuple[float, np.ndarray]:
    """Seconds and ΔG (F,) kJ/mol for the per-frame Context loop (MM + GB, no SASA)."""
    import openmm
    from openmm import unit

    from rankbind.platforms import platform_by_name

    parts = [
        (model.system, np.arange(len(model.atoms))),
        (model.receptor_system, model.receptor_local),
        (model.ligand_system, model.ligand_local),
    ]
    contexts = [
        openmm.Context(s, openmm.VerletIntegrator(0.001), platform_by_name(platform_name))
        for s, _ in parts
    ]
    energies = np.zeros((3, len(frames)))
    start = time.perf_counter()
    for f, x in enumerate(frames):
        for k, (context, (_, atoms)) in enumerate(zip(contexts, parts, strict=True)):
            context.setPositions(x[atoms])
            e = context.getState(getEnergy=True).getPotentialEnergy()
            energies[k, f] = e.value_in_unit(unit.kilojoule_per_mole)
    seconds = time.perf_counter() - start
    return seconds, energies[0] - energies[1] - energies[2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=["fragment", "asu"], default="asu")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--gb", choices=["GBn2", "OBC2"], default="GBn2")
    parser.add_argument(
        "--trim", type=float, default=0.0, help="interface trim (nm); 0 = whole complex"
    )
    parser.add_argument("--note", default="", help="e.g. whether the machine was shared")
    parser.add_argument("--output", type=Path, default=Path("gpu_bench/results/mmgbsa_cpu.json"))
    args = parser.parse_args(argv)

    import jax
    import openmm

    from rankbind.energies.mmgbsa import ComplexModel, MMGBSASettings
    from rankbind.fileio import write_json

    t0 = time.perf_counter()
    top, x0, rec, lig = prepare(args.system)
    prep_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    frames = x0[None] + rng.normal(0.0, 0.002, (args.frames,) + x0.shape)
    settings = MMGBSASettings(
        gb_model=args.gb, nonpolar="none", batch_size=args.batch_size, trim_nm=args.trim
    )
    keep = None
    if args.trim > 0:
        from rankbind.energies.mmgbsa import trim_residues

        keep = trim_residues(top, frames, rec, lig, args.trim)
    model = ComplexModel(top, rec, lig, settings, keep)
    x = frames[:, model.atoms]

    def jax_dg(frames_):
        bound = model.model.per_atom(frames_)
        apart = model.model.per_atom(frames_, model.group)
        return sum(v.sum(axis=1) for v in bound.values()) - sum(
            v.sum(axis=1) for v in apart.values()
        )

    t0 = time.perf_counter()
    jax_dg(x[: args.batch_size])  # compile (one batch)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    dg_jax = jax_dg(x)
    jax_s = time.perf_counter() - t0

    baselines = {}
    for name in ("Reference", "CPU"):
        seconds, dg = openmm_loop(model, x, name)
        baselines[name] = {
            "seconds": seconds,
            "frames_per_second": len(x) / seconds,
            "jax_speedup": seconds / jax_s,
            "max_abs_dG_difference_vs_jax_kcal_per_mol": float(np.abs(dg - dg_jax).max() / 4.184),
        }
        print(f"OpenMM {name}: {len(x) / seconds:.3f} frames/s", flush=True)
    print(f"JAX: {len(x) / jax_s:.3f} frames/s (compile {compile_s:.1f} s)")

    load = os.getloadavg()
    result = {
        "benchmark": "MM/GBSA single trajectory: complex + receptor + ligand energy per frame",
        "system": {
            "source": f"3URF {args.system}, PDBFixer (missing atoms + H, pH 7), amber14-all + {args.gb}",
            "complex_atoms": int(len(model.atoms)),
            "interface_trim_nm": args.trim or None,
            "untrimmed_atoms": int(len(rec) + len(lig)),
            "receptor_atoms": int(len(model.receptor_local)),
            "ligand_atoms": int(len(model.ligand_local)),
            "nonbonded": "NoCutoff",
            "nonpolar": "excluded (identical mdtraj SASA for both engines)",
            "preparation_seconds": prep_s,
        },
        "frames": len(x),
        "jax": {
            "seconds": jax_s,
            "frames_per_second": len(x) / jax_s,
            "compile_seconds": compile_s,
            "batch_size": args.batch_size,
            "pair_row_block": model.model.block,
            "precision": "float64",
            "device": str(jax.devices()[0]),
        },
        "openmm_context_loop": baselines,
        "hardware": {
            "machine": platform.machine(),
            "processor": _cpu_model(),
            "logical_cpus": os.cpu_count(),
            "gpu": gpu_names(),
            "load_average_at_end": load,
            "note": args.note,
        },
        "versions": {
            "python": platform.python_version(),
            "jax": jax.__version__,
            "openmm": openmm.__version__,
            "numpy": np.__version__,
        },
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(args.output, result)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
