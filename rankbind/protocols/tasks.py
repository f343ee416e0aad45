"""Task implementations: each task kind is one function calling the Python API.

A task gets a :class:`~rankbind.protocols.runner.TaskContext`. It receives its upstream
results explicitly: every task returns ``{"outputs": {name: path}, ...}`` (paths relative to
the run directory), the runner stores that in the task's ``provenance.json``, and
:func:`upstream` reads those named outputs back for the tasks this one depends on. Nothing
is found by scanning folders.

Named outputs:
- prepare: ``prepared`` (metadata.json of a rankbind.preparation directory), ``assembly``
  (the built assembly, heavy atoms, PDB with chain records)
- equilibrate / simulate: ``prepared`` (passed on), ``topology``, ``final_state``,
  ``trajectory`` (when frames were written)
- contacts: ``summary.<label>`` per system, ``competition`` (several systems)
- mmgbsa / alanine_scan / pmf: ``result``; umbrella: ``plan``, ``window``, ``samples``
- competition: ``results``; cited_competition: ``results`` (cited_competition.json); report:
  ``report``
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import openmm
from openmm import unit

from rankbind.errors import ProtocolError
from rankbind.fileio import sha256_file, write_json
from rankbind.settings import PhysicsSettings, PlatformSettings


def _value(quantity, target) -> float:
    return quantity.value_in_unit(target)


def _rel(ctx, path: Path) -> str:
    return Path(path).resolve().relative_to(Path(ctx.run_dir).resolve()).as_posix()


def upstream_outputs(ctx, prefix: str) -> list[tuple[dict, str, Path]]:
    """(task record, output name, path) of every output whose name starts with ``prefix``
    (e.g. ``"summary."``), of every upstream task, in dependency order."""
    found = []
    for directories in ctx.inputs.values():
        for directory in directories:
            record = json.loads((Path(directory) / "provenance.json").read_text())
            outputs = (record.get("result") or {}).get("outputs", {})
            for name, rel in outputs.items():
                if name.startswith(prefix):
                    found.append((record["task"], name, Path(ctx.run_dir) / rel))
    return found


def upstream(ctx, name: str) -> list[tuple[dict, Path]]:
    """(task record, path) of output ``name`` of every upstream task that recorded one,
    in dependency order; the task record holds stage, system, replica and window."""
    return [(task, path) for task, found, path in upstream_outputs(ctx, name) if found == name]


def _one(ctx, name: str) -> Path:
    found = upstream(ctx, name)
    if not found:
        raise ProtocolError(
            f"task {ctx.task.stage}: no upstream task recorded an output '{name}' "
            f"(upstream stages: {', '.join(ctx.inputs) or 'none'})"
        )
    return found[0][1]


def _physics(ctx) -> PhysicsSettings:
    return (
        ctx.physics
        if isinstance(ctx.physics, PhysicsSettings)
        else PhysicsSettings.load(ctx.physics)
    )


def _platform(ctx):
    from rankbind.platforms import select_platform

    platform = ctx.platform
    if not isinstance(platform, PlatformSettings):
        platform = PlatformSettings.load(platform)
    return select_platform(platform.name, platform.device_index, platform.precision)


def _steps(interval, timestep_fs: float) -> int:
    return max(1, int(round(_value(interval, unit.femtosecond) / timestep_fs)))


# ---------------------------------------------------------------- prepare


def prepare_task(ctx) -> dict:
    """Build the system (rankbind.protocols.systems) and prepare it for OpenMM."""
    from rankbind.preparation import prepare, write_prepared
    from rankbind.protocols.systems import build_system

    directory = Path(ctx.directory)
    assembly, record = build_system(ctx.system, directory / "build", ctx.seed)
    assembly.write_pdb(directory / "assembly.pdb")
    physics = _physics(ctx)
    if "padding" in ctx.params and physics.solvent != "explicit":
        raise ProtocolError(f"task {ctx.task.stage}: params.padding needs physics.solvent explicit")
    params = {"ph": ctx.params["ph"], "remove_water": not ctx.params["keep_crystal_waters"]}
    if "padding" in ctx.params:
        params["padding_nm"] = _value(ctx.params["padding"], unit.nanometer)
    prepared = prepare(assembly, physics.preparation(seed=ctx.seed, **params))
    write_prepared(prepared, directory)
    return {
        "outputs": {
            "prepared": _rel(ctx, directory / "metadata.json"),
            "assembly": _rel(ctx, directory / "assembly.pdb"),
        },
        "atoms": prepared.metadata["n_atoms"],
        "disulfides": prepared.metadata["disulfide_bonds"],
        "system": record,
    }


# ---------------------------------------------------------------- MD


def _md(
    ctx, prepared_path: Path, initial_state, nvt_ps, production_ps, report, checkpoint, **extra
):
    """StagedSimulation of the prepared system into the task directory."""
    from rankbind.preparation import load_prepared
    from rankbind.simulation import StagedSimulation, timestep_fs

    physics = _physics(ctx)
    prepared = load_prepared(prepared_path.parent)
    dt = timestep_fs(physics.simulation(), prepared.system)
    report_steps = _steps(report, dt)
    checkpoint_steps = report_steps * max(1, _steps(checkpoint, dt) // report_steps)
    options = physics.simulation(
        seed=ctx.seed,
        nvt_ps=nvt_ps,
        npt_ps=nvt_ps,
        production_ps=production_ps,
        report_interval_steps=report_steps,
        checkpoint_interval_steps=checkpoint_steps,
        **extra,
    )
    directory = Path(ctx.directory)
    results = StagedSimulation(prepared, directory, options, _platform(ctx), initial_state).run()
    last = results[-1]
    outputs = {
        "prepared": _rel(ctx, prepared_path),
        "topology": _rel(ctx, directory / "topology.pdb"),
        "final_state": _rel(
            ctx, directory / last.stage / last.files.get("final_state", "final_state.xml")
        ),
    }
    with_frames = [r for r in results if r.frames and "trajectory" in r.files]
    if with_frames:
        outputs["trajectory"] = _rel(
            ctx, directory / with_frames[-1].stage / with_frames[-1].files["trajectory"]
        )
    return {
        "outputs": outputs,
        "timestep_fs": dt,
        "stages": {
            r.stage: {
                "steps": r.steps,
                "frames": r.frames,
                "resumed_from_step": r.resumed_from_step,
            }
            for r in results
        },
    }


def equilibrate_task(ctx) -> dict:
    """Minimise, then restrained NVT (and NPT when periodic) for ``length``."""
    p = ctx.params
    return _md(
        ctx,
        _one(ctx, "prepared"),
        None,
        _value(p["length"], unit.picosecond),
        0.0,
        p["report_interval"],
        p["report_interval"],
        minimise_max_iterations=p["minimize_iterations"] if p["minimize"] else 1,
        restraint_k_kJ_mol_nm2=_value(p["restraint"], unit.kilojoule_per_mole / unit.nanometer**2),
    )


def simulate_task(ctx) -> dict:
    """Production MD from the upstream equilibration's final state (one task per replica)."""
    state = openmm.XmlSerializer.deserialize(_one(ctx, "final_state").read_text())
    p = ctx.params
    return _md(
        ctx,
        _one(ctx, "prepared"),
        state,
        0.0,
        _value(p["length"], unit.picosecond),
        p["report_interval"],
        p["checkpoint_interval"],
    )


# ---------------------------------------------------------------- analysis


def _frames(ctx, stride: int):
    """(prepared system, frames (F, N, 3) nm, description) from the upstream MD tasks:
    every replica's trajectory, else their final states, else the prepared positions."""
    import mdtraj

    from rankbind.preparation import load_prepared

    prepared_path = _one(ctx, "prepared")
    prepared = load_prepared(prepared_path.parent)
    trajectories = upstream(ctx, "trajectory")
    if trajectories:
        topology = _one(ctx, "topology")
        frames = np.concatenate(
            [mdtraj.load(str(path), top=str(topology)).xyz[::stride] for _, path in trajectories]
        )
        return prepared, frames, [_rel(ctx, p) for _, p in trajectories]
    states = upstream(ctx, "final_state")
    if states:
        frames = np.array(
            [
                openmm.XmlSerializer.deserialize(path.read_text())
                .getPositions(asNumpy=True)
                .value_in_unit(unit.nanometer)
                for _, path in states
            ]
        )
        return prepared, frames, [_rel(ctx, p) for _, p in states]
    positions = np.asarray(prepared.positions.value_in_unit(unit.nanometer))[None]
    return prepared, positions, [_rel(ctx, prepared_path)]


def _mmgbsa_settings(ctx):
    """MMGBSASettings of an mmgbsa/alanine_scan task: its named ``variant`` (GB model,
    solute dielectric, non-polar term; no salt) at the run's temperature and force field,
    or with ``variant: none`` the physics block's GB model and salt (``gb_model``/``salt``
    override them), eps_in 1 and gamma*SASA."""
    from rankbind.energies.variants import VARIANTS

    overrides = {"seed": ctx.seed}
    variant = ctx.params.get("variant", "none")
    if variant != "none":
        spec = VARIANTS[variant]
        overrides |= {"gb_model": spec["gb_model"], "solute_dielectric": spec["eps_in"],
                      "nonpolar": spec["nonpolar"], "salt_concentration": 0.0}  # fmt: skip
    if "gb_model" in ctx.params:
        overrides["gb_model"] = ctx.params["gb_model"]
    if "salt" in ctx.params:
        overrides["salt_concentration"] = _value(ctx.params["salt"], unit.molar)
    return _physics(ctx).mmgbsa(**overrides)


def mmgbsa_task(ctx) -> dict:
    """MM/GBSA (JAX engine) over the frames of the upstream MD tasks."""
    from rankbind.energies.mmgbsa import mmgbsa, selection_atoms

    prepared, frames, source = _frames(ctx, ctx.params["stride"])
    receptor = selection_atoms(prepared.topology, prepared.chains, ctx.params["receptor"])
    ligand = selection_atoms(prepared.topology, prepared.chains, ctx.params["ligand"])
    result = mmgbsa(prepared.topology, frames, receptor, ligand, _mmgbsa_settings(ctx))
    data = result.as_dict() | {
        "label": f"{ctx.params['ligand']} on {ctx.params['receptor']} ({ctx.task.system})",
        "frames_source": source,
        "variant": ctx.params.get("variant", "none"),
    }
    path = Path(ctx.directory) / "mmgbsa.json"
    write_json(path, data)
    return {
        "outputs": {"result": _rel(ctx, path)},
        "dG_kcal_per_mol": data["dG_bind"]["kcal_per_mol"],
        "n_frames": data["n_frames"],
    }


def alanine_scan_task(ctx) -> dict:
    """ΔΔG of X->Ala for each listed residue selection (rankbind.energies.alanine)."""
    from rankbind.energies.alanine import alanine_scan, truncatable
    from rankbind.energies.mmgbsa import selection_atoms
    from rankbind.structures.selection import select_residues, topology_residues

    p = ctx.params
    prepared, frames, source = _frames(ctx, p["stride"])
    receptor = selection_atoms(prepared.topology, prepared.chains, p["receptor"])
    ligand = selection_atoms(prepared.topology, prepared.chains, p["ligand"])
    residues = list(prepared.topology.residues())
    index = {(r.chain.id, int(r.id)): r.index for r in residues}
    present = topology_residues(prepared.topology)
    groups, skipped = [], []
    for text in p["residues"]:
        for key in select_residues(prepared.chains, present, text):
            reason = truncatable(prepared.topology, index[key])
            if reason is None:
                groups.append([index[key]])
            else:
                skipped.append({"residue": f"{key[0]}:{key[1]}", "reason": reason})
    if not groups:
        raise ProtocolError(f"task {ctx.task.stage}: no residue of params.residues can become Ala")
    wild_type, scan = alanine_scan(
        prepared.topology, frames, receptor, ligand, groups, _mmgbsa_settings(ctx), p["hotspot"]
    )
    path = Path(ctx.directory) / "alanine_scan.json"
    write_json(
        path,
        {
            "wild_type": wild_type.as_dict(),
            "mutants": [s.as_dict() for s in scan],
            "not_scanned": skipped,
            "frames_source": source,
            "hotspot_kcal_per_mol": p["hotspot"],
            "variant": p.get("variant", "none"),
        },
    )
    return {
        "outputs": {"result": _rel(ctx, path)},
        "scanned": len(scan),
        "hotspots": [s.label for s in scan if s.hotspot],
    }


def contacts_task(ctx) -> dict:
    """Footprints, interface chemistry, PRODIGY and (several systems) the competition map
    of the systems as built by the upstream prepare tasks (rankbind.analysis.survey)."""
    from rankbind.analysis.survey import survey

    found = upstream(ctx, "assembly")
    assemblies = [path for _, path in found]
    if not assemblies:
        raise ProtocolError(f"task {ctx.task.stage}: needs upstream prepare tasks (after: [...])")
    # label each assembly by its system: every prepare task writes 'assembly.pdb'
    result = survey(
        [str(p) for p in assemblies],
        Path(ctx.directory),
        cutoff_nm=_value(ctx.params["cutoff"], unit.nanometer),
        labels=[task.get("system") or path.parent.name for task, path in found],
    )
    outputs = {f"summary.{label}": _rel(ctx, path) for label, path in result["summaries"].items()}
    if result.get("competition"):
        outputs["competition"] = _rel(ctx, result["competition"])
    return {"outputs": outputs, "inputs": [_rel(ctx, p) for p in assemblies]}


# ---------------------------------------------------------------- umbrella sampling


def _umbrella_plan(ctx, prepared, positions_nm):
    from rankbind.freeenergy import umbrella
    from rankbind.protocols.runner import open_run
    from rankbind.simulation import timestep_fs

    p = ctx.params
    physics = _physics(ctx)
    dt_ps = timestep_fs(physics.simulation(), prepared.system) / 1000.0
    windows = open_run(ctx.run_dir).protocol.stage(ctx.task.stage).get("windows")
    if not windows:
        raise ProtocolError(f"stage {ctx.task.stage}: an umbrella stage needs 'windows'")
    interval_ps = _value(p["report_interval"], unit.picosecond)
    steps_per_sample = max(1, round(interval_ps / dt_ps))
    return umbrella.make_plan(
        prepared.topology,
        prepared.chains,
        positions_nm,
        umbrella.masses_of(prepared.system),
        receptor_selection=p["group2"],
        ligand_selection=p["group1"],
        centres_nm=[_value(w, unit.nanometer) for w in windows],
        force_constant=_value(p["force_constant"], unit.kilojoule_per_mole / unit.nanometer**2),
        temperature_K=physics.temperature_K,
        friction_per_ps=physics.friction_per_ps,
        timestep_ps=dt_ps,
        steps_per_sample=steps_per_sample,
        samples=max(1, round(_value(p["length"], unit.picosecond) / (steps_per_sample * dt_ps))),
        equilibration_steps=round(_value(p["equilibration"], unit.picosecond) / dt_ps),
        minimisation_iterations=p["minimize_iterations"],
        notes={"system": ctx.task.system},
    )


def umbrella_task(ctx) -> dict:
    """One umbrella window (rankbind.freeenergy.umbrella), started from the upstream
    equilibration's final state with the receptor placed at the window centre."""
    from rankbind.freeenergy import umbrella
    from rankbind.preparation import load_prepared

    prepared = load_prepared(_one(ctx, "prepared").parent)
    state = openmm.XmlSerializer.deserialize(_one(ctx, "final_state").read_text())
    positions = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    plan = _umbrella_plan(ctx, prepared, np.asarray(positions))
    directory = Path(ctx.directory)
    plan.write(directory / "plan.json")
    samples = umbrella.run_window(
        plan,
        ctx.task.window,
        directory,
        prepared.system,
        np.asarray(positions),
        platform=_platform(ctx).platform,
        seed=ctx.seed,
        place=True,
        box_vectors=state.getPeriodicBoxVectors(),
    )
    npz, meta = umbrella.window_paths(directory, ctx.task.window)
    return {
        "outputs": {
            "plan": _rel(ctx, directory / "plan.json"),
            "samples": _rel(ctx, samples),
            "window": _rel(ctx, meta),
        },
        "window": ctx.task.window,
        "centre_nm": plan.centres_nm[ctx.task.window],
    }


def pmf_task(ctx) -> dict:
    """PMF and binding free energy by MBAR over every upstream umbrella window."""
    from rankbind.freeenergy import umbrella

    plans = upstream(ctx, "plan")
    if not plans:
        raise ProtocolError(f"task {ctx.task.stage}: needs an upstream umbrella stage")
    plan = umbrella.UmbrellaPlan.read(plans[0][1])
    directory = Path(ctx.directory) / "windows"
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("samples", "window"):
        for _, path in upstream(ctx, name):
            if umbrella.UmbrellaPlan.read(path.parent / "plan.json").sha256() != plan.sha256():
                raise ProtocolError(f"{path}: window of a different umbrella plan")
            shutil.copyfile(path, directory / path.name)
    p = ctx.params
    lo, hi = (_value(q, unit.nanometer) for q in p["bulk_shell"][:2])
    result = umbrella.analyse_windows(
        plan,
        directory,
        site_max_nm=_value(p["site_max"], unit.nanometer),
        bulk_shell_nm=(lo, hi),
        bin_width_nm=_value(p["bin_width"], unit.nanometer),
        decorrelate=p["decorrelate"],
    )
    path = Path(ctx.directory) / "pmf.json"
    write_json(path, result)
    return {
        "outputs": {"result": _rel(ctx, path)},
        "dG_kJ_per_mol": result["binding"].get("dG_kJ_per_mol"),
    }


# ---------------------------------------------------------------- competition, report


def competition_task(ctx) -> dict:
    """Competition scenarios from a competition config (``rankbind compete`` format); with
    ``affinities: prodigy`` the RANK and OPG Kd come from the upstream contacts task's
    PRODIGY estimates, with that provenance recorded."""
    import yaml

    from rankbind.competition.runs import run_config
    from rankbind.fileio import write_text

    source = json.loads((Path(ctx.run_dir) / "protocol.json").read_text()).get("source", ".")
    config_path = Path(ctx.params["config"])
    if not config_path.is_absolute():
        config_path = Path(source).resolve().parent / config_path
    if not config_path.is_file():
        raise ProtocolError(f"task {ctx.task.stage}: params.config: no file {config_path}")
    config = yaml.safe_load(config_path.read_text())
    replaced = {}
    if ctx.params["affinities"] == "prodigy":
        summaries = [path for _, _, path in upstream_outputs(ctx, "summary.")]
        if not summaries:
            raise ProtocolError(
                f"task {ctx.task.stage}: affinities: prodigy needs an upstream contacts stage"
            )
        for path in summaries:
            data = json.loads(path.read_text())
            molecule = data["binder"].split("/")[0]
            stats = data.get("prodigy")
            for binder in config["binders"]:
                if binder["name"] == molecule and stats:
                    binder["affinity"] = {
                        "dg_kcal": stats["dg_kcal_per_mol_mean"],
                        "source": f"PRODIGY (Vangone & Bonvin 2015) on {data['input']}, "
                        "computed by this run",
                    }
                    replaced[molecule] = stats["dg_kcal_per_mol_mean"]
    merged = Path(ctx.directory) / "config.yaml"
    write_text(merged, yaml.safe_dump(config, sort_keys=False))
    run_config(merged, Path(ctx.directory), plots=True)
    return {
        "outputs": {"results": _rel(ctx, Path(ctx.directory) / "results.json")},
        "inputs": {str(config_path): sha256_file(config_path)},
        "prodigy_affinities_kcal": replaced,
    }


def report_task(ctx) -> dict:
    """Markdown + HTML report of the whole run directory. ``params.models``: folders under
    the structures data directory whose committed ``*.report.json`` sections (same-species,
    same-species energies, denosumab epitope, isoforms, threading validation;
    rankbind.analysis.report_sections) and the figures they name are copied into this
    task's folder first, so the report shows them, with their hashes recorded as inputs."""
    from rankbind.report import build_report
    from rankbind.structures import structures_dir

    used = {}
    for folder in ctx.params.get("models") or []:
        source = structures_dir() / folder
        sections = sorted(source.glob("*.report.json"))
        if not sections:
            raise ProtocolError(
                f"task {ctx.task.stage}: params.models: no *.report.json in {source}"
            )
        target = Path(ctx.directory) / "models" / Path(folder).name
        target.mkdir(parents=True, exist_ok=True)
        for path in sections:
            shutil.copyfile(path, target / path.name)
            used[f"structures/{folder}/{path.name}"] = sha256_file(path)
            for figure in json.loads(path.read_text(encoding="utf-8")).get("figures", []):
                if (source / figure).is_file():  # a section's committed figures
                    shutil.copyfile(source / figure, target / figure)
                    used[f"structures/{folder}/{figure}"] = sha256_file(source / figure)
    path = build_report(ctx.run_dir, ctx.directory, ctx.params["title"])
    return {"outputs": {"report": _rel(ctx, path)}, "inputs": used}
