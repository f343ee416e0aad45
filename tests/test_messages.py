"""Finding 6 of issue 17: each bad input gets a one-line message naming the file, field
or value (exit status 2 from the CLI), never a traceback; long values are shortened."""

from __future__ import annotations

import json

import pytest
import yaml
from helpers import fragment

from rankbind.cli import main
from rankbind.errors import ProtocolError, SimulationError, StructureError
from rankbind.platforms import select_platform
from rankbind.protocols import load_protocol
from rankbind.simulation import SimulationOptions, StagedSimulation
from rankbind.structures import get_entry
from rankbind.structures.pdbfile import read_pdb


def _run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return status, captured.err


def test_binary_file_given_as_pdb(tmp_path, capsys):
    path = tmp_path / "model.pdb"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(StructureError, match=r"model.pdb: not a PDB text file"):
        read_pdb(path)
    status, err = _run(
        ["prepare", str(path), "--chain", "A=RANKL", "--out", str(tmp_path / "o")], capsys
    )
    assert status == 2 and "model.pdb: not a PDB text file" in err, err


def test_chain_offset_not_an_integer(tmp_path, capsys):
    pdb = str(get_entry("3URF").path)
    status, err = _run(
        ["prepare", pdb, "--chain", "A=RANKL:abc", "--out", str(tmp_path / "o")], capsys
    )
    assert status == 2 and "--chain 'A=RANKL:abc': OFFSET 'abc' is not an integer" in err, err


@pytest.mark.parametrize(
    "flag, field", [("--timestep", "timestep_fs"), ("--report-interval", "report_interval_steps")]
)
def test_zero_timestep_or_report_interval(tmp_path, capsys, flag, field):
    out = tmp_path / "out"
    status, err = _run(["simulate", str(tmp_path), "--out", str(out), flag, "0"], capsys)
    assert status == 2 and f"{field} must be positive, got 0" in err, err
    assert not out.exists()
    if flag == "--timestep":  # a float option: NaN reaches the settings check
        status, err = _run(["simulate", str(tmp_path), "--out", str(out), flag, "nan"], capsys)
        assert status == 2 and "timestep_fs: nan is not a finite number" in err, err


def test_nan_in_simulation_options():
    with pytest.raises(SimulationError, match="friction_per_ps: nan is not a finite number"):
        SimulationOptions(friction_per_ps=float("nan")).validate()


@pytest.fixture(scope="module")
def prepared():
    return fragment("vacuum")


def test_unwritable_out_and_corrupt_checkpoints(prepared, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    reference = select_platform("Reference")
    options = SimulationOptions(
        nvt_ps=0, npt_ps=0, production_ps=0.04, report_interval_steps=5,
        checkpoint_interval_steps=5, minimise_max_iterations=10,
    )  # fmt: skip
    with pytest.raises(SimulationError, match="cannot create output directory .*file/out"):
        StagedSimulation(prepared, blocker / "out", options, reference).run()
    run = tmp_path / "run"
    StagedSimulation(prepared, run, options, reference).run()
    stage = run / "production"
    (stage / "done.json").unlink()
    (run / ".simulation.json.x1y2.part").write_text("left by SIGKILL")
    pointer = json.loads((stage / "checkpoint.json").read_text())
    (stage / "checkpoint.json").write_text('{"step": ')
    with pytest.raises(SimulationError, match=r"production/checkpoint.json: corrupt checkpoint"):
        StagedSimulation(prepared, run, options, reference).run()
    assert not list(run.rglob("*.part"))  # temporaries of killed runs are removed
    # a corrupt binary checkpoint falls back to the State XML; a corrupt XML is refused
    (stage / "checkpoint.json").write_text(json.dumps(pointer))
    (stage / pointer["checkpoint"]).write_bytes(b"garbage")
    result = StagedSimulation(prepared, run, options, reference).run()[-1]
    assert "binary checkpoint unusable" in result.resumed_with
    (stage / "done.json").unlink()
    (stage / pointer["state"]).write_text("<State broken")
    (stage / pointer["checkpoint"]).unlink()
    with pytest.raises(SimulationError, match=r"corrupt or unreadable State XML"):
        StagedSimulation(prepared, run, options, reference).run()


def test_malformed_catalogue(tmp_path, monkeypatch, capsys):
    (tmp_path / "catalogue.yaml").write_text("entries:\n  - 3URF\n  - 4GIQ\n")
    monkeypatch.setenv("RANKBIND_STRUCTURES", str(tmp_path))
    with pytest.raises(StructureError, match="catalogue.yaml: malformed catalogue"):
        get_entry("3URF")
    status, err = _run(["prepare", "3URF", "--out", str(tmp_path / "o")], capsys)
    assert status == 2 and "malformed catalogue" in err
    (tmp_path / "catalogue.yaml").write_text("entries: {a: 1}\nentries: {}\n")
    with pytest.raises(StructureError, match="duplicate key 'entries'"):
        get_entry("3URF", tmp_path)


def _protocol(tmp_path, text: str):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


BASE = {
    "name": "x",
    "systems": {"m": {"entry": "4GIQ"}},
    "stages": [{"name": "a", "task": "prepare"}],
}


def test_protocol_nan_duplicates_and_huge_values(tmp_path):
    data = dict(BASE, physics={"friction": float("nan")})
    with pytest.raises(ProtocolError, match=r"friction: nan is not a finite number"):
        load_protocol(_protocol(tmp_path, yaml.safe_dump(data)))
    text = (
        "name: x\nsystems:\n  rankl: {entry: 4GIQ}\n  rankl: {entry: 3ME2}\n"
        "stages: [{name: a, task: prepare}]\n"
    )
    with pytest.raises(ProtocolError, match=r"duplicate key 'rankl' \(first at line 3\)"):
        load_protocol(_protocol(tmp_path, text))
    huge = dict(BASE, stages=[{"name": "a", "task": "y" * 5_000_000}])
    with pytest.raises(ProtocolError) as info:
        load_protocol(_protocol(tmp_path, yaml.safe_dump(huge)))
    message = str(info.value)
    assert len(message) < 1100 and "characters omitted" in message
    assert message.startswith(f"{tmp_path / 'p.yaml'}: stages[0].task: unknown task kind")
