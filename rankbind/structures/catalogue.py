"""The structure catalogue (``structures/catalogue.yaml``): which file holds which
molecules, with provenance and a sha256 verified on every load."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rankbind.errors import ChecksumError, StructureError
from rankbind.fileio import data_dir, sha256_file

MOLECULES = ("RANKL", "RANK", "OPG", "FAB_HEAVY", "FAB_LIGHT", "ANTIGEN")


def structures_dir() -> Path:
    """The folder holding ``catalogue.yaml``: :func:`rankbind.fileio.data_dir` ``("structures")``
    (``$RANKBIND_STRUCTURES``, the copy shipped in the wheel, or the source checkout's)."""
    path = data_dir("structures")
    if not (path / "catalogue.yaml").is_file():
        raise StructureError(
            f"{path}/catalogue.yaml not found; set RANKBIND_STRUCTURES to the structures "
            "folder of a rankbind checkout"
        )
    return path


@dataclass(frozen=True)
class ChainSpec:
    """Identity of one deposited chain. UniProt number = PDB number + ``uniprot_offset``.
    ``expression_tag``: first and last PDB residue number of an expression tag the file's
    SEQADV records do not flag (observed tag residues are left out of assemblies)."""

    chain: str
    molecule: str
    species: str
    uniprot: str | None
    uniprot_offset: int | None
    expression_tag: tuple[int, int] | None = None


@dataclass(frozen=True)
class Entry:
    """One catalogue entry (a shipped coordinate file)."""

    name: str
    path: Path
    sha256: str
    title: str
    method: str
    resolution_angstrom: float | None
    citation: str
    source: str
    kind: str
    chains: dict[str, ChainSpec]

    def chains_of(self, molecule: str) -> list[ChainSpec]:
        return [c for c in self.chains.values() if c.molecule == molecule]

    def provenance(self) -> dict:
        return {
            "entry": self.name,
            "file": self.path.name,
            "sha256": self.sha256,
            "title": self.title,
            "method": self.method,
            "resolution_angstrom": self.resolution_angstrom,
            "citation": self.citation,
            "source": self.source,
            "kind": self.kind,
        }


def _require(mapping: dict, key: str, where: str):
    if key not in mapping:
        raise StructureError(f"catalogue.yaml: {where} lacks the field '{key}'")
    return mapping[key]


def _tag_range(value, entry: str, chain: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise StructureError(
            f"catalogue.yaml: entry {entry} chain {chain}: expression_tag_pdb must be "
            f"[first, last] PDB residue numbers, not {value!r}"
        )
    return value[0], value[1]


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, Entry]:
    from rankbind.validation import load_yaml

    raw = load_yaml(path, StructureError)
    try:
        return _entries(path, raw)
    except (AttributeError, TypeError, ValueError) as exc:  # a list where a mapping belongs
        raise StructureError(
            f"{path}: malformed catalogue ({type(exc).__name__}: {str(exc)[:120]}); "
            "expected 'entries: {NAME: {file, sha256, chains: {ID: {molecule: ...}}}}'"
        ) from None


def _entries(path: Path, raw) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for name, item in _require(raw, "entries", "the catalogue").items():
        chains = {}
        for chain_id, spec in _require(item, "chains", f"entry {name}").items():
            molecule = _require(spec, "molecule", f"entry {name} chain {chain_id}")
            if molecule not in MOLECULES:
                raise StructureError(
                    f"catalogue.yaml: entry {name} chain {chain_id}: molecule '{molecule}' "
                    f"is not one of {', '.join(MOLECULES)}"
                )
            chains[str(chain_id)] = ChainSpec(
                chain=str(chain_id),
                molecule=molecule,
                species=spec.get("species", "unknown"),
                uniprot=spec.get("uniprot"),
                uniprot_offset=spec.get("uniprot_offset"),
                expression_tag=_tag_range(spec.get("expression_tag_pdb"), name, chain_id),
            )
        entries[str(name)] = Entry(
            name=str(name),
            path=path.parent / _require(item, "file", f"entry {name}"),
            sha256=_require(item, "sha256", f"entry {name}"),
            title=item.get("title", ""),
            method=item.get("method", ""),
            resolution_angstrom=item.get("resolution_angstrom"),
            citation=item.get("citation", ""),
            source=item.get("source", ""),
            kind=item.get("kind", "crystal"),
            chains=chains,
        )
    return entries


def catalogue(root: Path | None = None) -> dict[str, Entry]:
    """All entries of the catalogue under ``root`` (default :func:`structures_dir`)."""
    root = root or structures_dir()
    return _load((root / "catalogue.yaml").resolve())


def get_entry(name: str, root: Path | None = None) -> Entry:
    """The catalogue entry ``name`` (case-insensitive), checksum-verified."""
    entries = catalogue(root)
    key = name.upper()
    if key not in entries:
        raise StructureError(
            f"no catalogue entry '{name}'; known entries: {', '.join(sorted(entries))}"
        )
    entry = entries[key]
    verify_checksum(entry.path, entry.sha256)
    return entry


def verify_checksum(path: Path, expected: str) -> None:
    """Raise :class:`ChecksumError` unless ``path`` hashes to ``expected``."""
    if not path.is_file():
        raise StructureError(f"{path}: catalogued file is missing")
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(
            f"{path}: sha256 {actual} does not match the catalogue's {expected}; "
            "the file was modified or corrupted"
        )
