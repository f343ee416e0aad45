"""Denosumab Fv model and CDR identification."""

from __future__ import annotations

import pytest

from rankbind.errors import StructureError
from rankbind.modelling.fab import (
    build_denosumab_model,
    denosumab_sequences,
    heavy_cdrs,
    light_cdrs,
    template_identities,
)
from rankbind.modelling.sequences import chain_sequence


def test_denosumab_kabat_cdrs():
    seqs = denosumab_sequences()
    h = {c.name: (c.start, c.end, c.sequence) for c in heavy_cdrs(seqs["VH"])}
    l_ = {c.name: (c.start, c.end, c.sequence) for c in light_cdrs(seqs["VL"])}
    # Kabat positions by hand: H1 31-35, H2 50-65 (+1 insertion 52a), H3 95-102 (+ins)
    assert h == {
        "H1": (31, 35, "SYAMS"),
        "H2": (50, 66, "GITGSGGSTYYADSVKG"),
        "H3": (99, 111, "DPGTTVIMSWFDP"),
    }
    assert l_ == {
        "L1": (24, 35, "RASQSVRGRYLA"),
        "L2": (51, 57, "GASSRAT"),
        "L3": (90, 98, "QQYGSSPRT"),
    }
    with pytest.raises(StructureError, match="CDR rules"):
        light_cdrs("A" * 100)


def test_template_choice_by_identity():
    rows = {r["template"]: r for r in template_identities()}
    assert max(rows, key=lambda t: rows[t]["VH_identity"]) == "3BN9"
    assert max(rows, key=lambda t: rows[t]["VL_identity"]) == "2NYY"
    assert rows["3BN9"]["VH_identity"] > 0.85


@pytest.mark.slow
def test_denosumab_fv_model():
    result = build_denosumab_model("fv")
    seqs = denosumab_sequences()
    assert chain_sequence(result.assembly, "H") == seqs["VH"]
    assert chain_sequence(result.assembly, "L") == seqs["VL"]
    report = result.report
    assert report["denosumab"]["composite_template"]["vh_template"] == "3BN9"
    assert report["denosumab"]["composite_template"]["vl_superposition_ca_rmsd_angstrom"] < 2.0
    # the two intrachain V-domain disulfides (H22-H96, L23-L89) are intact
    ss = {(a, b) for a, b, d in report["clashes_after"]["disulfides"] if d < 2.3}
    assert {("H:96", "H:22"), ("L:89", "L:23")} <= ss | {(b, a) for a, b in ss}
    rebuilt = report["chains"]["H"]["rebuilt_segments"]
    assert any(99 <= lo <= 111 for lo, _ in rebuilt)  # CDR-H3 is longer than in 3BN9
    assert result.assembly.provenance["model"] is True
