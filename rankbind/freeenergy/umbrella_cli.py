"""``rankbind umbrella plan|window|analyse``: umbrella sampling of receptor unbinding.

plan     write an UmbrellaPlan (JSON) for a prepared complex (PDB + serialised OpenMM System)
window   run one window (index from --index or $SLURM_ARRAY_TASK_ID) into a results folder
analyse  MBAR over all windows: separation PMF and standard binding free energy (JSON)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from rankbind.errors import ProtocolError
from rankbind.fileio import write_json


def _pair(text: str) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'VALUE,ERROR', got '{text}'") from None
    return a, b


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="umbrella_command", required=True)

    plan = sub.add_parser("plan", help="write an umbrella plan for a prepared complex")
    plan.add_argument("--entry", required=True, help="catalogue entry, e.g. 4GIQ (chain records)")
    plan.add_argument("--kind", default="trimer_receptor", help="assembly kind the PDB came from")
    plan.add_argument(
        "--pdb",
        type=Path,
        required=True,
        help="prepared complex (PDB keeping assembly chain ids and UniProt residue numbers)",
    )
    plan.add_argument("--system", type=Path, required=True, help="OpenMM System XML of --pdb")
    plan.add_argument(
        "--receptor", required=True, help="selection, e.g. RANK, OPG, FAB_HEAVY+FAB_LIGHT"
    )
    plan.add_argument("--ligand", default="RANKL", help="selection of the RANKL side")
    plan.add_argument("--atoms", default="heavy", choices=("heavy", "ca", "all"))
    plan.add_argument("--pull", type=float, default=2.0, help="separation range, nm")
    plan.add_argument("--spacing", type=float, default=0.1, help="window spacing, nm")
    plan.add_argument("--k", type=float, default=1000.0, help="umbrella constant, kJ/mol/nm²")
    plan.add_argument(
        "--boresch",
        nargs=4,
        metavar=("A2", "A3", "B2", "B3"),
        help="reference-group selections for Boresch orientational restraints",
    )
    plan.add_argument("--boresch-k", type=float, default=41.84, help="kJ/mol/rad²")
    plan.add_argument("--rmsd", help="selection for an RMSD conformational restraint")
    plan.add_argument("--rmsd-k", type=float, default=1000.0, help="kJ/mol/nm²")
    plan.add_argument("--temperature", type=float, default=300.0, help="K")
    plan.add_argument("--timestep", type=float, default=0.002, help="ps")
    plan.add_argument("--samples", type=int, default=1000)
    plan.add_argument("--steps-per-sample", type=int, default=500)
    plan.add_argument("--equilibration-steps", type=int, default=25000)
    plan.add_argument("--out", type=Path, required=True, help="plan JSON to write")

    window = sub.add_parser("window", help="run one umbrella window")
    window.add_argument("--plan", type=Path, required=True)
    window.add_argument("--pdb", type=Path, required=True, help="starting structure (PDB)")
    window.add_argument("--system", type=Path, required=True, help="OpenMM System XML")
    window.add_argument("--index", type=int, help="window index (default $SLURM_ARRAY_TASK_ID)")
    window.add_argument("--out", type=Path, required=True, help="results folder")
    window.add_argument(
        "--place",
        action="store_true",
        help="translate the receptor to the centre (implicit solvent/vacuum)",
    )
    window.add_argument("--platform", help="OpenMM platform name (default: fastest)")
    window.add_argument("--seed", type=int)

    analyse = sub.add_parser("analyse", help="PMF and binding free energy from all windows")
    analyse.add_argument("--plan", type=Path, required=True)
    analyse.add_argument("--dir", type=Path, required=True, help="results folder of the windows")
    analyse.add_argument("--site-max", type=float, required=True, help="bound site r < this, nm")
    analyse.add_argument("--bulk-shell", type=float, nargs=2, required=True, metavar=("LO", "HI"))
    analyse.add_argument("--bin-width", type=float, default=0.05, help="PMF bin width, nm")
    analyse.add_argument(
        "--site-release", type=_pair, help="'dG,err' kJ/mol: restraints on in the complex"
    )
    analyse.add_argument(
        "--bulk-conformation", type=_pair, help="'dG,err' kJ/mol: RMSD restraint in bulk"
    )
    analyse.add_argument("--no-decorrelate", action="store_true")
    analyse.add_argument("--out", type=Path, required=True, help="result JSON")


def _load_system(path: Path):
    import openmm

    try:
        return openmm.XmlSerializer.deserialize(path.read_text())
    except OSError as exc:
        raise ProtocolError(f"{path}: cannot read OpenMM System XML: {exc}") from None
    except Exception as exc:  # OpenMM raises plain Exception on malformed XML
        raise ProtocolError(f"{path}: not an OpenMM System XML: {exc}") from None


def _load_pdb(path: Path):
    from openmm import app, unit

    try:
        pdb = app.PDBFile(str(path))
    except (OSError, ValueError, KeyError) as exc:
        raise ProtocolError(f"{path}: cannot read PDB: {exc}") from None
    return pdb.topology, np.array(pdb.positions.value_in_unit(unit.nanometer))


def run(args) -> int:
    from rankbind.freeenergy import umbrella

    if args.umbrella_command == "plan":
        from rankbind.structures import build_assembly

        chains = build_assembly(args.entry, args.kind).chains
        topology, xyz = _load_pdb(args.pdb)
        system = _load_system(args.system)
        if system.getNumParticles() != xyz.shape[0]:
            raise ProtocolError(
                f"{args.system} has {system.getNumParticles()} particles but {args.pdb} has "
                f"{xyz.shape[0]} atoms"
            )
        boresch = (
            dict(zip(("A2", "A3", "B2", "B3"), args.boresch, strict=True)) if args.boresch else None
        )
        plan = umbrella.make_plan(
            topology,
            chains,
            xyz,
            umbrella.masses_of(system),
            receptor_selection=args.receptor,
            ligand_selection=args.ligand,
            atom_set=args.atoms,
            pull_nm=args.pull,
            spacing_nm=args.spacing,
            force_constant=args.k,
            boresch_selections=boresch,
            boresch_force_constant=args.boresch_k,
            rmsd_selection=args.rmsd,
            rmsd_force_constant=args.rmsd_k,
            temperature_K=args.temperature,
            timestep_ps=args.timestep,
            samples=args.samples,
            steps_per_sample=args.steps_per_sample,
            equilibration_steps=args.equilibration_steps,
            notes={
                "entry": args.entry,
                "kind": args.kind,
                "pdb": str(args.pdb),
                "system": str(args.system),
            },
        )
        plan.write(args.out)
        print(
            f"{args.out}: {plan.n_windows} windows, r0 {plan.centres_nm[0]:.3f}-{plan.centres_nm[-1]:.3f} nm"
        )
        return 0

    if args.umbrella_command == "window":
        from rankbind.platforms import platform_by_name

        plan = umbrella.UmbrellaPlan.read(args.plan)
        index = args.index
        if index is None:
            task = os.environ.get("SLURM_ARRAY_TASK_ID")
            if task is None:
                raise ProtocolError("no --index and no $SLURM_ARRAY_TASK_ID")
            index = int(task)
        platform = platform_by_name(args.platform) if args.platform else None
        _, xyz = _load_pdb(args.pdb)
        path = umbrella.run_window(
            plan,
            index,
            args.out,
            _load_system(args.system),
            xyz,
            platform=platform,
            seed=args.seed,
            place=args.place,
        )
        print(path)
        return 0

    plan = umbrella.UmbrellaPlan.read(args.plan)
    result = umbrella.analyse_windows(
        plan,
        args.dir,
        site_max_nm=args.site_max,
        bulk_shell_nm=tuple(args.bulk_shell),
        bin_width_nm=args.bin_width,
        site_release=args.site_release,
        bulk_conformation=args.bulk_conformation,
        decorrelate=not args.no_decorrelate,
    )
    write_json(args.out, result)
    b = result["binding"]
    print(
        f"dG° = {b['dG_kcal_per_mol']:.2f} ± {b['error_kcal_per_mol']:.2f} kcal/mol "
        f"({b['dG_kJ_per_mol']:.1f} ± {b['error_kJ_per_mol']:.1f} kJ/mol) at {b['temperature_K']} K"
    )
    print(json.dumps({k: v["value_kT"] for k, v in b["terms"].items()}))
    return 0
