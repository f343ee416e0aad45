"""Structure library: catalogue, PDB records, BIOMT assemblies, residue addressing."""

from rankbind.structures.assembly import KINDS, Assembly, ChainInfo, build_assembly, from_pdb
from rankbind.structures.catalogue import ChainSpec, Entry, catalogue, get_entry, structures_dir
from rankbind.structures.selection import (
    atom_indices,
    parse_selection,
    select_residues,
    select_union,
    split_union,
)

__all__ = [
    "KINDS",
    "Assembly",
    "ChainInfo",
    "ChainSpec",
    "Entry",
    "atom_indices",
    "build_assembly",
    "catalogue",
    "from_pdb",
    "get_entry",
    "parse_selection",
    "select_residues",
    "select_union",
    "split_union",
    "structures_dir",
]
