"""Alanine and general mutation scanning on ensembles, with uncertainties.

``mutation_scan`` takes an assembly, the receptor and ligand selections and a list of
mutation sets (each one or several mutations applied together, syntax of
:mod:`rankbind.modelling.mutations`, e.g. ``["A:K180A"]`` or ``["A:Q237E", "R:E116Q"]``):

* a set made only of X→A mutations is an **alanine truncation** of the wild-type ensemble
  (side chains cut at Cβ, :mod:`rankbind.energies.alanine`); ΔΔG is the mean of the paired
  per-frame differences, with the ensemble's bootstrap;
* any other set is **rebuilt**: :func:`rankbind.modelling.mutations.mutate` (PDBFixer side
  chains, restrained minimisation), prepared with the same options (protonation, implicit
  relaxation), its own ensemble sampled with the same settings and seed, and scored;
  ΔΔG = ΔG(mutant) − ΔG(wild type), standard errors added in quadrature (unpaired).

Every result records which of the two it was. ΔΔG > 0: the mutation weakens binding;
hot spot: ΔΔG ≥ ``hotspot_kcal`` (default 1 kcal/mol).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from rankbind.energies.entropy import KJ_PER_KCAL
from rankbind.errors import SelectionError
from rankbind.progress import progress_for


@dataclass
class ScanEntry:
    mutations: list[str]
    kind: str
    ddg_kj: float
    sem_kj: float
    hotspot: bool
    cpu_s: float
    extra: dict

    def as_dict(self) -> dict:
        return {
            "mutations": self.mutations,
            "kind": self.kind,
            "ddG_kcal_per_mol": self.ddg_kj / KJ_PER_KCAL,
            "sem_kcal_per_mol": self.sem_kj / KJ_PER_KCAL,
            "ddG_kJ_per_mol": self.ddg_kj,
            "sem_kJ_per_mol": self.sem_kj,
            "hotspot": self.hotspot,
            "cpu_s": self.cpu_s,
            **self.extra,
        }


def _split(prepared, receptor: str, ligand: str):
    from rankbind.energies.mmgbsa import selection_atoms

    chains = prepared.chains
    return (
        selection_atoms(prepared.topology, chains, receptor),
        selection_atoms(prepared.topology, chains, ligand),
    )


def _residue_index(topology, mutation: str) -> int:
    from rankbind.modelling.mutations import parse_mutation
    from rankbind.structures.sequences import ONE_TO_THREE

    m = parse_mutation(mutation)
    for residue in topology.residues():
        if residue.chain.id == m.chain and residue.id.strip() == str(m.number):
            if residue.name != ONE_TO_THREE[m.wild_type] and not (
                m.wild_type == "H" and residue.name in ("HIS", "HID", "HIE", "HIP")
            ):
                raise SelectionError(f"mutation {mutation}: residue is {residue.name}")
            return residue.index
    raise SelectionError(f"mutation {mutation}: residue not in the prepared structure")


def mutation_scan(
    assembly,
    receptor: str,
    ligand: str,
    mutation_sets: list[list[str]],
    preparation=None,
    ensemble=None,
    settings=None,
    hotspot_kcal: float = 1.0,
    prepared=None,
    progress=True,
) -> dict:
    """Wild-type ΔG and one :class:`ScanEntry` per mutation set (see the module doc).
    ``prepared``: the wild type already prepared from ``assembly`` (else prepared here).
    ``progress``: True (stderr), False or a text stream; counts the wild type and the
    mutation sets (each sampled or rescored ensemble).
    Returns {"wild_type": MMGBSAResult.as_dict() subset, "scan": [entries], "settings"}."""
    from rankbind.energies.alanine import alanine_scan
    from rankbind.energies.ensembles import EnsembleSettings, ensemble_mmgbsa, sample
    from rankbind.energies.mmgbsa import MMGBSASettings
    from rankbind.modelling.mutations import mutate, parse_mutation
    from rankbind.preparation import PreparationOptions, prepare

    preparation = preparation or PreparationOptions(solvent="vacuum")
    ensemble = ensemble or EnsembleSettings()
    settings = settings or MMGBSASettings()
    bar = progress_for(progress, "mutation scan", len(mutation_sets) + 1, "ensembles")
    with bar:
        t0 = time.process_time()
        wt_prep = prepared if prepared is not None else prepare(assembly, preparation)
        rec, lig = _split(wt_prep, receptor, ligand)
        frames, _ = sample(wt_prep.topology, wt_prep.positions, ensemble)
        wt, _ = ensemble_mmgbsa(
            wt_prep.topology,
            wt_prep.positions,
            rec,
            lig,
            settings,
            ensemble,
            frames=frames,
            progress=False,
        )
        wt_cpu = time.process_time() - t0
        bar.advance(1, "wild type")
        used = settings.replace(uncertainty=wt.settings.uncertainty)
        entries = []
        for muts in mutation_sets:
            t1 = time.process_time()
            parsed = [parse_mutation(m) for m in muts]
            if all(m.new == "A" for m in parsed):
                residues = [_residue_index(wt_prep.topology, m) for m in muts]
                _, scans = alanine_scan(
                    wt_prep.topology,
                    frames,
                    rec,
                    lig,
                    [residues],
                    used,
                    hotspot_kcal,
                    wild_type=wt,
                    progress=False,
                )
                s = scans[0]
                entries.append(
                    ScanEntry(
                        list(muts),
                        "alanine truncation at CB on the wild-type ensemble (paired frames)",
                        s.ddg.mean,
                        s.ddg.sem,
                        s.ddg.mean / KJ_PER_KCAL >= hotspot_kcal,
                        time.process_time() - t1,
                        {"label": s.label},
                    )
                )
                bar.advance(1, " ".join(muts))
                continue
            mutant = mutate(assembly, list(muts)).assembly
            mut_prep = prepare(mutant, preparation)
            mrec, mlig = _split(mut_prep, receptor, ligand)
            result, _ = ensemble_mmgbsa(
                mut_prep.topology,
                mut_prep.positions,
                mrec,
                mlig,
                settings,
                ensemble,
                progress=False,
            )
            ddg = result.delta_g.mean - wt.delta_g.mean
            sem = math.hypot(result.delta_g.sem, wt.delta_g.sem)
            entries.append(
                ScanEntry(
                    list(muts),
                    "rebuilt (mutations.mutate), prepared and sampled separately (unpaired)",
                    ddg,
                    sem,
                    ddg / KJ_PER_KCAL >= hotspot_kcal,
                    time.process_time() - t1,
                    {"dG_mutant": result.delta_g.as_dict()},
                )
            )
            bar.advance(1, " ".join(muts))
    return {
        "wild_type": {
            "dG_bind": wt.delta_g.as_dict(),
            "n_frames": int(len(wt.delta_total)),
            "cpu_s": wt_cpu,
            "uncertainty": wt.info.get("uncertainty"),
        },
        "scan": [e.as_dict() for e in entries],
        "settings": {
            "mmgbsa": used.as_dict(),
            "ensemble": wt.info.get("ensemble", {}),
            "hotspot_kcal": hotspot_kcal,
        },
    }
