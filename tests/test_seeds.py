"""The curated seed files load, validate, and agree with the seed documents, which
are re-parsed here as an independent reference."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rankbind.competition import seeds

# The seed documents live in shared/seeds beside the checkout (CI clones with shared/ beside it).
SEED_TEXTS = Path(
    os.environ.get("RANKBIND_SEED_TEXTS", Path(__file__).resolve().parents[2] / "shared" / "seeds")
)
RENEMA = SEED_TEXTS / "004_28d31b0c3fed9ae1.txt"
MYELOMA = SEED_TEXTS / "000_fe63c22cd793db62.txt"


def _text(path: Path) -> str:
    if not path.is_file():
        pytest.skip(f"seed document {path} not available (set RANKBIND_SEED_TEXTS)")
    return path.read_text(encoding="utf-8")


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_expression_table_matches_table_1():
    text = _text(RENEMA)
    block = text[text.index("Table 1 RANK and RANKL") : text.index("patients with visceral")]
    row = re.compile(r"^(?P<name>[A-Z][^\[\n]*?) (?P<rank>\[[^\]]+\]) (?P<rankl>\[[^\]]+\]|–)$")
    reference = [m.groups() for line in block.splitlines() if (m := row.match(line.strip()))]
    loaded = seeds.load_expression_table()
    assert len(reference) == 20
    assert len(loaded) == len(reference)
    as_printed = [(r.tumour_type, r.rank_references, r.rankl_references or "–") for r in loaded]
    assert as_printed == reference


def test_trials_match_table_2():
    text = _text(RENEMA)
    block = _normalise(
        text[text.index("Table 2 Main clinical") : text.index("dendritic cells, expressing")]
    )
    ids = re.findall(r"NCT\d{8}", block)
    trials = seeds.load_trials()
    assert [t.nct_id for t in trials] == ids
    assert len(ids) == 24
    starts = [block.index(i) for i in ids] + [len(block)]
    for trial, a, b in zip(trials, starts, starts[1:], strict=False):
        segment = block[a:b]
        assert segment.startswith(f"{trial.nct_id} {trial.phase}, {trial.indication} "), trial
        assert trial.primary_outcome in segment, trial.nct_id
        assert re.search(rf"(?<![\d.]){trial.patients_enrolled}(?!\d)", segment), trial.nct_id
        assert "(s.c.)" in segment
        if trial.dose_mg_max is None:
            assert not re.search(r"\d+ ?mg \(s\.c\.\)|Denosumab \d+ ?mg", segment)
        elif trial.dose_mg_min == trial.dose_mg_max:
            assert re.search(rf"{trial.dose_mg_max:g} ?mg", segment), trial.nct_id
        else:
            assert f"from {trial.dose_mg_min:g} to {trial.dose_mg_max:g} mg" in segment


def test_isoform_statements_are_in_the_source():
    text = _normalise(_text(RENEMA))
    isoforms = seeds.load_isoforms()
    assert {"RANKL1", "RANKL2", "RANKL3", "RANK-c", "OPG"} <= set(isoforms)
    # each isoform entry's key terms occur in the review
    assert "RANKL 3 is a soluble form of RANKL" in text
    assert "identified a new isoform of RANK (named RANK-c)" in text
    assert "OPG acts as a decoy re- ceptor" in text or "OPG acts as a decoy receptor" in text
    for enzyme in isoforms["sRANKL-shed"]["facts"]["enzymes"]:
        assert enzyme.split("-")[0] in text
    assert isoforms["RANKL3"]["facts"]["form"] == "soluble"


def test_myeloma_findings_cite_the_abstract():
    abstract = _normalise(_text(MYELOMA))
    findings = seeds.load_myeloma_findings()
    pmid = "15359989"
    assert f"PMID: {pmid}" in abstract
    from_abstract = [f for f in findings.values() if f["source"] == "pmid15359989"]
    assert len(from_abstract) == 5
    assert "increase in RANKL-OPG ratio correlates with the extent" in abstract
    assert set(findings["decoys-reduce-osteolysis"]["intervention"]) == {"OPG-Fc", "RANK-Fc"}
    assert "OPG: Fc or RANK: Fc" in abstract
    trials = {t.nct_id: t for t in seeds.load_trials()}
    for nct in findings["myeloma-denosumab-trials"]["nct_ids"]:
        assert trials[nct].indication == "Multiple myeloma"


def test_bad_seed_files_are_named(tmp_path):
    src = seeds.seeds_dir()
    bad = tmp_path / "denosumab_trials.csv"
    rows = (src / "denosumab_trials.csv").read_text(encoding="utf-8").splitlines()
    rows[3] = rows[3].replace("NCT01920568", "NCT0192")
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "denosumab_trials.meta.yaml").write_text(
        (src / "denosumab_trials.meta.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    with pytest.raises(seeds.SeedError, match=r"row 4, field nct_id"):
        seeds.load_trials(bad)
    rows = (src / "rank_rankl_expression_by_tumour.csv").read_text(encoding="utf-8").splitlines()
    short = tmp_path / "rank_rankl_expression_by_tumour.csv"
    short.write_text("\n".join(rows[:-1]) + "\n", encoding="utf-8")
    (tmp_path / "rank_rankl_expression_by_tumour.meta.yaml").write_text(
        (src / "rank_rankl_expression_by_tumour.meta.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    with pytest.raises(seeds.SeedError, match="19 rows but"):
        seeds.load_expression_table(short)
