"""``rankbind prepare``: build an assembly and prepare it for OpenMM."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from rankbind.errors import StructureError
from rankbind.preparation import (
    BOX_SHAPES,
    FORCEFIELDS,
    GB_MODELS,
    SOLVENTS,
    PreparationOptions,
    prepare,
    write_prepared,
)
from rankbind.structures import KINDS, build_assembly, from_pdb
from rankbind.structures.assembly import read_assembly, read_chain_records
from rankbind.structures.catalogue import MOLECULES, ChainSpec
from rankbind.validation import parse_chain_option


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("structure", help="catalogue entry (3URF, 4GIQ, 3ME2, ...) or a PDB file")
    parser.add_argument(
        "--assembly", default="interface", choices=KINDS, help="assembly of a catalogue entry"
    )
    parser.add_argument(
        "--chain",
        action="append",
        default=[],
        metavar="ID=MOLECULE[:OFFSET]",
        help="for a PDB file without rankbind chain records: what chain ID is, e.g. A=RANKL Z=OPG:21 (repeat per chain)",
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--forcefield", default="amber14", choices=sorted(FORCEFIELDS))
    parser.add_argument("--solvent", default="implicit", choices=SOLVENTS)
    parser.add_argument("--gb-model", default="GBn2", choices=sorted(GB_MODELS))
    parser.add_argument("--water-model", default=None, choices=["tip3p", "opc"])
    parser.add_argument("--ph", type=float, default=7.0)
    parser.add_argument("--ionic-strength", type=float, default=0.15, help="molar")
    parser.add_argument("--padding", type=float, default=1.0, help="nm")
    parser.add_argument("--box-shape", default="dodecahedron", choices=BOX_SHAPES)
    parser.add_argument("--no-hmr", action="store_true", help="keep hydrogen masses (2 fs steps)")
    parser.add_argument("--keep-water", action="store_true")
    parser.add_argument("--keep-ions", action="store_true")


def _chain_specs(items: list[str], path: str) -> dict[str, ChainSpec]:
    specs = {}
    for item in items:
        chain, molecule, offset = parse_chain_option(item, MOLECULES)
        specs[chain] = ChainSpec(chain, molecule, "unknown", None, offset)
    if not specs:
        raise StructureError(f"{path}: a PDB file needs --chain ID=MOLECULE for each chain")
    return specs


def load_structure(args: argparse.Namespace):
    if Path(args.structure).suffix.lower() in (".pdb", ".ent") or Path(args.structure).is_file():
        if not args.chain and read_chain_records(args.structure):
            return read_assembly(args.structure)  # written by rankbind: chains are recorded
        return from_pdb(args.structure, _chain_specs(args.chain, args.structure))
    return build_assembly(args.structure, args.assembly)


def run(args: argparse.Namespace) -> int:
    options = PreparationOptions(
        forcefield=args.forcefield,
        solvent=args.solvent,
        gb_model=args.gb_model,
        water_model=args.water_model,
        ph=args.ph,
        ionic_strength_molar=args.ionic_strength,
        padding_nm=args.padding,
        box_shape=args.box_shape,
        hydrogen_mass_amu=None if args.no_hmr else 1.5,
        remove_water=not args.keep_water,
        remove_ions=not args.keep_ions,
    )
    options.validate()
    assembly = load_structure(args)
    prepared = prepare(assembly, options)
    existed = args.out.exists()
    try:
        write_prepared(prepared, args.out)
    except BaseException:
        if not existed:
            shutil.rmtree(args.out, ignore_errors=True)
        raise
    m = prepared.metadata
    print(
        f"prepared {assembly.name}: {m['n_atoms']} atoms, {m['disulfide_bonds']} disulfides "
        f"({m['ssbond_records']} SSBOND), {options.forcefield}/{options.solvent} -> {args.out}"
    )
    return 0
