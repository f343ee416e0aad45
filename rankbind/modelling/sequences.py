"""Moved to :mod:`rankbind.structures.sequences` (the one home of sequences, numbering
and the aligner). This alias keeps ``rankbind.modelling.sequences`` imports working."""

from rankbind.structures.sequences import (  # noqa: F401
    ONE_TO_THREE,
    THREE_TO_ONE,
    Alignment,
    ChainResidue,
    Comparison,
    Difference,
    align,
    chain_residues,
    chain_sequence,
    compare,
    fasta_sequence,
    one_letter,
    uniprot_alignment,
)
