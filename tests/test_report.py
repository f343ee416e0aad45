"""The report: Markdown -> HTML with the markdown package, labelled numbers, warnings,
absent pools, no raw JSON or code spans."""

import json
import re

import pytest

from rankbind.competition.cited import run_cited
from rankbind.report import build_report


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    cited = run_cited(out_dir=run / "competition", plots=False, n_ratio=3, n_time=3)
    fp = {
        "name": "OPG (3URF/interface)", "species": "human", "cutoff_nm": 0.4, "n_frames": 1,
        "protomers": ["A"], "buried_sasa_total": 100.0, "provenance": {},
        "residues": [{"chain": "A", "number": n, "reference_number": n, "resname": "ARG",
                      "buried_sasa": 10.0, "frequency": 1.0} for n in (223, 237, 239)],
    }  # fmt: skip
    (run / "fp").mkdir()
    (run / "fp" / "footprint.json").write_text(json.dumps(fp))
    (run / "fp" / "hbonds.csv").write_text("bond,occupancy\nA:ARG223:NH1 -- R:GLU116:O,1.0\n")
    (run / "fp" / "salt_bridges.csv").write_text("pair,occupancy\nR:GLU116 -- A:ARG223,0.5\n")
    for name, dg in (("opg", 9.7), ("rank", -30.2)):
        (run / name).mkdir()
        (run / name / "mmgbsa.json").write_text(json.dumps({
            "dG_bind": {"kcal_per_mol": dg, "sem_kcal_per_mol": 0.0, "kJ_per_mol": dg * 4.184,
                        "sem_kJ_per_mol": 0.0},
            "n_frames": 1, "label": f"{name.upper()} on RANKL",
            "decomposition": {"per_residue": [{"chain": "A", "residue": 223, "name": "ARG",
                              "side": "receptor", "dG_kcal_per_mol": -2.0, "sem_kcal_per_mol": 0.1}]},
        }))  # fmt: skip
    (run / "illustrative").mkdir()
    (run / "illustrative" / "results.json").write_text(json.dumps({
        "scenarios": [], "warnings": [], "assumptions": {"sites": "independent"},
        "config": {"pools": [{"name": "RANKL", "total_trimer_molar": 1e-10, "source": "ILLUSTRATIVE PLACEHOLDER"},
                             {"name": "RANKL3", "total_trimer_molar": 0.0, "source": "ILLUSTRATIVE PLACEHOLDER"}],
                   "binders": [{"name": "RANK", "total_molar": 1e-9, "source": "ILLUSTRATIVE PLACEHOLDER",
                                "affinity": {"kd_molar": 1e-9, "source": "ILLUSTRATIVE PLACEHOLDER"}}]},
        "baseline": {"pools": ["RANKL", "RANKL3"], "pool_totals_molar": [1e-10, 0.0],
                     "receptor_site_fraction": [0.3, None], "signalling_fraction": [0.2, None]},
    }))  # fmt: skip
    out = run / "report"
    build_report(run, out, "test report")
    return run, out, cited


def test_html_is_rendered_markdown_without_code_or_json(run_dir):
    _, out, _ = run_dir
    page = (out / "report.html").read_text()
    text = (out / "report.md").read_text()
    assert "`" not in text and "`" not in page
    assert "<pre>" not in page and '{"' not in page
    assert page.count("<table>") >= 8 and "<h2>" in page
    # tables became HTML tables, not pipes in paragraphs
    assert not re.search(r"<p>\|", page)


def test_every_conclusion_and_input_is_labelled(run_dir):
    _, out, cited = run_dir
    page = (out / "report.html").read_text()
    for row in cited["conclusions"]:
        assert row["scenario"] in page
    for item in cited["inputs"]:
        assert item["label"] in page  # cited (source, confidence) / placeholder / derived
    assert page.count("computed; placeholder inputs") >= len(cited["conclusions"]) - 1


def test_warnings_for_implausible_scores_and_cross_species(run_dir):
    _, out, _ = run_dir
    page = (out / "report.html").read_text()
    assert "OPG on RANKL: MM/GBSA dG = +9.7 kcal/mol" in page
    assert "RANK on RANKL: MM/GBSA dG" not in page
    assert "Not in this run: same-species" in page


def test_absent_pool_row_and_constant_values(run_dir):
    _, out, _ = run_dir
    page = (out / "report.html").read_text()
    row = re.search(r"<td>RANKL3</td>\s*<td>0 M</td>\s*<td>absent</td>\s*<td>absent</td>", page)
    assert row, "a pool with zero total must read absent, not a trace-pool occupancy"
    assert re.search(r"Kd \(valency 1\)</td>\s*<td>1 nM", page)


def test_figures_written(run_dir):
    _, out, _ = run_dir
    names = {p.name.split("_", 1)[1] for p in (out / "figures").glob("*.png")}
    assert {"footprints_sequence.png", "mmgbsa.png", "per_residue_opg.png"} <= names
    page = (out / "report.html").read_text()
    for p in (out / "figures").glob("*.png"):
        assert f"figures/{p.name}" in page


def test_isoform_and_epitope_sections(run_dir):
    _, out, _ = run_dir
    page = (out / "report.html").read_text()
    assert "What the competition model does with them" in page
    # epitope 233-241 (seeds) against the synthetic footprint 223, 237, 239: 2 of 9
    assert re.search(r"<td>OPG \(3URF/interface\)</td>\s*<td>2 of 9</td>\s*<td>237, 239</td>", page)


def test_committed_model_sections_render_their_json(tmp_path):
    """The committed *.report.json sections are regenerated exactly from their JSON
    (rankbind.analysis.report_sections), and the report renders their numbers: checked
    against the source JSON, read independently."""
    import shutil
    from pathlib import Path

    from rankbind.analysis.report_sections import LABEL, SOURCES, write_report_sections

    committed = Path(__file__).parents[1] / "structures/models/species_complexes"
    work = tmp_path / "species"
    shutil.copytree(committed, work, ignore=shutil.ignore_patterns("*.pdb", "*.md"))
    written = write_report_sections(work)
    assert len(written) == len(SOURCES)
    for path in written:  # the committed sections are up to date with their JSON
        assert json.loads(path.read_text()) == json.loads((committed / path.name).read_text())
    run = tmp_path / "run"
    (run / "models").mkdir(parents=True)
    for path in written:
        shutil.copyfile(path, run / "models" / path.name)
    build_report(run, run / "report", "committed sections")
    text = (run / "report" / "report.md").read_text()
    assert text.count(f"label: {LABEL}") == len(SOURCES)
    same = json.loads((committed / SOURCES["same-species"]).read_text())
    for species in ("human", "mouse"):
        b = same[species]
        assert f"{species}: OPG {b['n_opg']} and RANK {b['n_rank']} footprint residues" in text
        row = b["residues"][0]
        assert re.search(
            rf"\| {row['rankl_residue']} \| {row['human_number']} \| {row['OPG']} \| "
            rf"{row['RANK']} \| {row['status']} \|",
            text,
        )
    deno = json.loads((committed / SOURCES["denosumab-epitope"]).read_text())
    for r in deno["receptors"]:
        assert f"| {r['receptor']} |" in text
        assert f"{r['n_grooves_excluded']} of {len(r['grooves'])}" in text
    iso = json.loads((committed / SOURCES["isoforms"]).read_text())
    for name, item in iso["isoforms"].items():
        assert f"| {name} | {item['protein']} |" in text
