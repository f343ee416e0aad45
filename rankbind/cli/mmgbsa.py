"""``rankbind mmgbsa``: single-trajectory MM/GBSA, decomposition and alanine scanning.

Input: a prepared structure (PDB/PDBx with hydrogens, e.g. from rankbind preparation) and
optionally a trajectory readable by mdtraj (DCD, XTC, ...) over the same atoms; without a
trajectory the structure itself is the single frame. Receptor and ligand are residue
selections (``RANKL``, ``RANKL/A+RANKL/C``, ``OPG``; needs the ``REMARK 250 CHAIN`` records
rankbind writes) or chain lists (``--receptor-chains A,C``). Writes one JSON result.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rankbind.errors import RankbindError, SelectionError, StructureError
from rankbind.settings import GB_MODELS, MMGBSASettings, default_of
from rankbind.structures.assembly import read_chain_records


def M(name: str):
    """Default of MMGBSASettings field ``name`` (rankbind.settings)."""
    return default_of(MMGBSASettings, name)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("structure", type=Path, help="prepared PDB/PDBx (with hydrogens)")
    parser.add_argument("--trajectory", type=Path, help="trajectory over the same atoms (mdtraj)")
    parser.add_argument("--start", type=int, default=0, help="first frame (default 0)")
    parser.add_argument("--stop", type=int, default=None, help="stop before this frame")
    parser.add_argument("--stride", type=int, default=1, help="use every n-th frame")
    side = parser.add_argument_group("receptor and ligand")
    side.add_argument("--receptor", help="selection, e.g. 'RANKL' or 'RANKL/A+RANKL/C'")
    side.add_argument("--ligand", help="selection, e.g. 'OPG'")
    side.add_argument("--receptor-chains", help="comma list of chain ids instead of --receptor")
    side.add_argument("--ligand-chains", help="comma list of chain ids instead of --ligand")
    phys = parser.add_argument_group("physics (recorded in the result)")
    phys.add_argument(
        "--forcefield",
        action="append",
        help=f"force field XML (default {' '.join(M('forcefield'))})",
    )
    phys.add_argument("--gb", choices=sorted(GB_MODELS), default=M("gb_model"))
    phys.add_argument("--nonpolar", choices=["sasa", "ace", "none"], default=M("nonpolar"))
    phys.add_argument(
        "--surface-tension", type=float, default=M("surface_tension"), help="kcal/mol/A^2"
    )
    phys.add_argument(
        "--salt", type=float, default=M("salt_concentration"), help="salt concentration, mol/L"
    )
    phys.add_argument(
        "--solute-dielectric",
        type=float,
        default=M("solute_dielectric"),
        help="solute (interior) dielectric eps_in: divides the Coulomb term and enters the GB "
        "term as 1/eps_in - 1/eps_out",
    )
    phys.add_argument("--temperature", type=float, default=M("temperature"), help="K")
    phys.add_argument("--entropy", choices=["none", "interaction"], default=M("entropy"))
    run_ = parser.add_argument_group("run")
    run_.add_argument("--engine", choices=["jax", "openmm"], default=M("engine"))
    run_.add_argument("--platform", default=M("platform"), help="OpenMM platform (engine openmm)")
    run_.add_argument(
        "--batch-size", type=int, default=M("batch_size"), help="frames per JAX batch"
    )
    run_.add_argument("--bootstrap", type=int, default=M("n_bootstrap"), help="bootstrap samples")
    run_.add_argument("--seed", type=int, default=M("seed"))
    run_.add_argument("--decompose", action="store_true", help="per-residue and pair decomposition")
    scan = parser.add_argument_group("alanine scanning")
    scan.add_argument("--scan-interface", action="store_true", help="scan every interface residue")
    scan.add_argument(
        "--mutant",
        action="append",
        default=[],
        help="residues truncated together, CHAIN:RESID[,CHAIN:RESID...] (repeatable)",
    )
    scan.add_argument("--hotspot", type=float, default=1.0, help="hot spot ΔΔG, kcal/mol")
    parser.add_argument("-o", "--output", type=Path, required=True, help="result JSON")


def _load(args):
    from openmm import app, unit

    path = args.structure
    if not path.exists():
        raise StructureError(f"{path}: no such file")
    try:
        reader = app.PDBxFile if path.suffix.lower() in (".cif", ".pdbx") else app.PDBFile
        structure = reader(str(path))
    except Exception as exc:  # OpenMM raises plain exceptions on malformed files
        raise StructureError(f"{path}: cannot read structure: {exc}") from exc
    topology = structure.topology
    if args.trajectory is None:
        frames = np.array(structure.positions.value_in_unit(unit.nanometer))[None]
    else:
        import mdtraj

        if not args.trajectory.exists():
            raise StructureError(f"{args.trajectory}: no such file")
        try:
            traj = mdtraj.load(str(args.trajectory), top=mdtraj.Topology.from_openmm(topology))
        except Exception as exc:
            raise StructureError(f"{args.trajectory}: cannot read with {path}: {exc}") from exc
        frames = traj.xyz.astype(float)
    frames = frames[args.start : args.stop : args.stride]
    if len(frames) == 0:
        raise RankbindError("no frames selected (check --start/--stop/--stride)")
    return topology, frames


def _side(topology, structure: Path, selection: str | None, chains: str | None, name: str):
    from rankbind.energies.mmgbsa import selection_atoms

    if (selection is None) == (chains is None):
        raise SelectionError(f"give exactly one of --{name} and --{name}-chains")
    if chains is not None:
        wanted = {c.strip() for c in chains.split(",") if c.strip()}
        have = {c.id for c in topology.chains()}
        if wanted - have:
            raise SelectionError(
                f"--{name}-chains: {sorted(wanted - have)} not in {structure} (chains {sorted(have)})"
            )
        return [a.index for a in topology.atoms() if a.residue.chain.id in wanted]
    records = list(read_chain_records(structure))
    if not records:
        raise SelectionError(
            f"{structure} has no 'REMARK 250 CHAIN' records naming molecules; use --{name}-chains"
        )
    return selection_atoms(topology, records, selection)


def _mutants(topology, texts: list[str]) -> list[list[int]]:
    index = {(r.chain.id, r.id): r.index for r in topology.residues()}
    out = []
    for text in texts:
        group = []
        for item in text.split(","):
            chain, _, resid = item.strip().partition(":")
            if (chain, resid) not in index:
                raise SelectionError(
                    f"--mutant '{text}': no residue {item.strip()!r} (CHAIN:RESID)"
                )
            group.append(index[(chain, resid)])
        out.append(group)
    return out


def run(args) -> int:
    from rankbind.energies.alanine import (
        alanine_scan,
        interface_residues,
        residue_label,
        truncatable,
    )
    from rankbind.energies.mmgbsa import MMGBSASettings, mmgbsa
    from rankbind.fileio import write_json

    settings = MMGBSASettings(
        forcefield=tuple(args.forcefield or M("forcefield")),
        gb_model=args.gb,
        solute_dielectric=args.solute_dielectric,
        salt_concentration=args.salt,
        nonpolar=args.nonpolar,
        surface_tension=args.surface_tension,
        temperature=args.temperature,
        entropy=args.entropy,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
        engine=args.engine,
        batch_size=args.batch_size,
        platform=args.platform,
    )
    topology, frames = _load(args)
    receptor = _side(topology, args.structure, args.receptor, args.receptor_chains, "receptor")
    ligand = _side(topology, args.structure, args.ligand, args.ligand_chains, "ligand")
    result = mmgbsa(topology, frames, receptor, ligand, settings, decompose=args.decompose)
    out = {"structure": str(args.structure), "trajectory": str(args.trajectory or "")}
    out.update(result.as_dict())
    mutants = _mutants(topology, args.mutant)
    skipped = []
    if args.scan_interface:
        residues = list(topology.residues())
        for r in interface_residues(topology, frames, receptor, ligand):
            reason = truncatable(topology, r)
            if reason is None:
                mutants.append([r])
            else:
                skipped.append(f"{residue_label(residues[r])}: {reason}")
    if mutants:
        _, scans = alanine_scan(
            topology, frames, receptor, ligand, mutants, settings, args.hotspot, wild_type=result
        )
        out["alanine_scan"] = {
            "method": "truncation at CB, H on the CB->Xgamma vector at 1.09 A; paired per frame",
            "hotspot_threshold_kcal_per_mol": args.hotspot,
            "mutants": [s.as_dict() for s in scans],
            "interface_residues_not_scanned": skipped,
        }
    write_json(args.output, out)
    dg = result.delta_g
    print(
        f"dG_bind = {dg.mean / 4.184:.2f} ± {dg.sem / 4.184:.2f} kcal/mol "
        f"({len(frames)} frames; {result.score_kind}) -> {args.output}"
    )
    return 0
