"""Protocol files: the shipped examples validate; every kind of violation gets an error
naming the file and the key path."""

from __future__ import annotations

import copy
from pathlib import Path

import openmm.unit as u
import pytest
import yaml

from rankbind.errors import ProtocolError
from rankbind.protocols import expand, load_protocol, protocol_from_dict, register_task, registry
from rankbind.protocols.registry import Resources, get_kind
from rankbind.protocols.schema import Key, Number, Record
from rankbind.units import format_quantity, parse_quantity

PROTOCOLS = sorted((Path(__file__).parents[1] / "protocols").glob("*.yaml"))

BASE = {
    "name": "t",
    "systems": {"mouse": {"entry": "4GIQ", "kind": "interface"}},
    "stages": [
        {"name": "prep", "task": "prepare"},
        {"name": "md", "task": "equilibrate", "replicas": 2, "params": {"length": "1 ns"}},
        {
            "name": "scan",
            "task": "alanine_scan",
            "params": {"residues": ["RANKL:233-241"], "receptor": "RANKL", "ligand": "RANK"},
        },
    ],
}


def test_all_shipped_protocols_present():
    names = {p.stem for p in PROTOCOLS}
    assert names >= {
        "quick",
        "rankl_rank_mouse_crystal",
        "rankl_rank_human_model",
        "rankl_opg",
        "rankl_denosumab",
        "isoforms",
        "alanine_scan",
        "umbrella_pmf",
        "competition_scenarios",
    }


@pytest.mark.parametrize("path", PROTOCOLS, ids=lambda p: p.stem)
def test_shipped_protocol_validates_and_round_trips(path):
    protocol = load_protocol(path)
    plan = expand(protocol)
    assert plan.tasks(), path
    # the resolved form is itself a valid protocol and resolves to the same thing
    again = protocol_from_dict(protocol.data(), source="resolved", base=path.parent)
    assert again.data() == protocol.data()
    assert again.digest() == protocol.digest()


def test_units_parse_to_canonical_values():
    assert parse_quantity("4 fs", "time").value_in_unit(u.picosecond) == pytest.approx(0.004)
    assert format_quantity(parse_quantity("4 fs", "time"), "time") == "0.004 ps"
    # 1 kcal/mol/Å² = 4.184 kJ/mol / 0.01 nm² = 418.4 kJ/mol/nm²
    k = parse_quantity("1 kcal/mol/A**2", "force_constant")
    assert k.value_in_unit(u.kilojoule_per_mole / u.nanometer**2) == pytest.approx(418.4)
    assert parse_quantity("150 mM", "concentration").value_in_unit(u.molar) == pytest.approx(0.15)


def _error(data, tmp_path, name="bad.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    message = str(info.value)
    assert message.startswith(str(path)), message  # every error names the file
    return message


def _with(change):
    data = copy.deepcopy(BASE)
    change(data)
    return data


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: d.update(colour="blue"), "colour: unknown key 'colour'"),
        (lambda d: d["stages"][1].update(replica=3), "stages[1].replica: unknown key"),
        (
            lambda d: d["stages"][1]["params"].update(lenght="1 ns"),
            "stages[1].params.lenght: unknown key",
        ),
        (lambda d: d.update(seed="seven"), "seed: expected an integer, got string"),
        (lambda d: d["stages"][1].update(replicas=0), "stages[1].replicas: 0 is below the minimum"),
        (
            lambda d: d.update(physics={"timestep": "4 m"}),
            "physics.timestep: unit 'm' in '4 m' is not a time unit",
        ),
        (
            lambda d: d.update(physics={"timestep": "4"}),
            "physics.timestep: expected '<number> <unit>'",
        ),
        (
            lambda d: d.update(physics={"timestep": 4}),
            "physics.timestep: expected a time with a unit",
        ),
        (
            lambda d: d.update(physics={"timestep": "10 fs"}),
            "physics.timestep: Input should be less than or equal to 5 fs (got '10 fs')",
        ),
        (lambda d: d.update(physics={"temperature": "300 C"}), "not a temperature unit"),
        (
            lambda d: d["systems"]["mouse"].update(entry="9ZZZ"),
            "systems.mouse.entry: missing structure: no catalogue entry '9ZZZ'",
        ),
        (lambda d: d["systems"]["mouse"].pop("entry"), "systems.mouse: give exactly one of"),
        (
            lambda d: (
                d["systems"]["mouse"].update(file="nowhere.pdb", entry=None)
                or d["systems"]["mouse"].pop("entry")
            ),
            "systems.mouse.file: file not found",
        ),
        (
            lambda d: d["systems"]["mouse"].update(kind="dodecamer"),
            "systems.mouse.kind: 'dodecamer' is not one of",
        ),
        (
            lambda d: d["stages"][2]["params"].update(residues=["RANKL 233"]),
            "stages[2].params.residues[0]: bad residue selection 'RANKL 233'",
        ),
        (
            lambda d: d["stages"][2]["params"].update(residues=["RANKLE:233"]),
            "unknown molecule 'RANKLE'",
        ),
        (
            lambda d: d["stages"][2]["params"].update(residues=["RANKL:999"]),
            "residue(s) [999] not present",
        ),
        (
            lambda d: d["stages"][2]["params"].update(ligand="OPG"),
            "stages[2].params.ligand: system 'mouse': selection 'OPG': no OPG here",
        ),
        (
            lambda d: d["stages"][1].update(task="simulat"),
            "stages[1].task: unknown task kind 'simulat' (known: ",
        ),
        (
            lambda d: d["stages"][1].update(after=["scan"]),
            "stages[1].after[0]: no earlier stage 'scan' (stages run in file order",
        ),
        (lambda d: d["stages"][1].update(name="prep"), "stages[1].name: duplicate stage name"),
        (
            lambda d: d["stages"].append({"name": "prep2", "task": "prepare", "after": ["scan"]}),
            "stages[3].after[0]: 'prepare' (prepare phase) cannot run after 'scan' (alanine_scan, ",
        ),
        (lambda d: d["stages"][1].update(over=["rat"]), "stages[1].over[0]: unknown system 'rat'"),
        (lambda d: d.pop("systems"), "systems: missing required key"),
        (
            lambda d: d["stages"][1]["params"].pop("length"),
            "stages[1].params.length: missing required key",
        ),
        (
            lambda d: d.update(plugins=["no_such_plugin_module"]),
            "plugins[0]: cannot import 'no_such_plugin_module'",
        ),
        (
            lambda d: d.update(slurm={"partition": "gpu; rm -rf /"}),
            "slurm.partition: 'gpu; rm -rf /' does not match",
        ),
    ],
)
def test_violation_names_file_and_key(change, expected, tmp_path):
    message = _error(_with(change), tmp_path)
    assert expected in message, message


def test_malformed_yaml_gives_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: t\nsystems: {mouse: {entry: 4GIQ}\nstages: [\n")
    with pytest.raises(ProtocolError, match=r"broken.yaml: not valid YAML \(line \d+, column"):
        load_protocol(path)


def test_missing_and_non_mapping_files(tmp_path):
    with pytest.raises(ProtocolError, match="protocol file not found: .*absent.yaml"):
        load_protocol(tmp_path / "absent.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ProtocolError, match="list.yaml: a protocol is a mapping"):
        load_protocol(path)


def test_file_system_resolves_relative_to_protocol(tmp_path):
    (tmp_path / "model.pdb").write_text("END\n")
    data = _with(lambda d: d["systems"].update(user={"file": "model.pdb"}))
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    protocol = load_protocol(path)
    assert protocol.resolved["systems"]["user"]["file"] == str((tmp_path / "model.pdb").resolve())


def test_defaults_and_windows_are_resolved():
    data = _with(
        lambda d: d["stages"].append(
            {
                "name": "us",
                "task": "umbrella",
                "after": ["md"],
                "windows": {"start": "2 nm", "stop": "3 nm", "count": 5},
                "params": {
                    "group1": "RANKL",
                    "group2": "RANK",
                    "force_constant": "1000 kJ/mol/nm**2",
                    "length": "1 ns",
                },
            }
        )
    )
    protocol = protocol_from_dict(data)
    physics = protocol.resolved["physics"]
    assert physics.timestep_fs is None and physics.hydrogen_mass_amu == 1.5  # auto: 4 fs with HMR
    assert protocol.resolved["stages"][1]["after"] == ["prep"]  # default: previous stage
    centres = [w.value_in_unit(u.nanometer) for w in protocol.stage("us")["windows"]]
    assert centres == pytest.approx([2.0, 2.25, 2.5, 2.75, 3.0])
    assert len(expand(protocol).stages["us"]) == 5


def test_register_task_in_one_call_makes_kind_valid(monkeypatch):
    # imported (and its kinds registered) before the registry is swapped for a copy below,
    # so that later tests find the fixture kinds whatever the test order
    import protocol_fixtures  # noqa: F401

    monkeypatch.setattr(registry, "_KINDS", registry.kinds())  # keep the global registry clean
    with pytest.raises(ProtocolError, match="unknown task kind 'hydrate'"):
        protocol_from_dict(_with(lambda d: d["stages"].append({"name": "h", "task": "hydrate"})))

    def hydrate(ctx):
        return None

    register_task(
        "hydrate",
        hydrate,
        stage="analysis",
        resources=Resources(gpu=True),
        params=Record({"shells": Key(Number(integer=True, min=1), default=2)}),
    )
    protocol = protocol_from_dict(
        _with(lambda d: d["stages"].append({"name": "h", "task": "hydrate"}))
    )
    assert protocol.stage("h")["params"] == {"shells": 2}
    assert get_kind("hydrate").function is hydrate and get_kind("hydrate").resources.gpu
    # completing a declared kind keeps its schema
    register_task("pmf", hydrate, stage="analysis")
    assert "site_max" in get_kind("pmf").params.keys
    register_task("lazy", "protocol_fixtures:boom_task", stage="analysis")
    assert get_kind("lazy").implementation().__name__ == "boom_task"
    register_task("broken", "no_such_module:run", stage="analysis")
    with pytest.raises(ProtocolError, match="task kind 'broken': cannot load 'no_such_module:run'"):
        get_kind("broken").implementation()
    with pytest.raises(ProtocolError, match="stage 'nowhere' is not one of"):
        register_task("x", hydrate, stage="nowhere")
