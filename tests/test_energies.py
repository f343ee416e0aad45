"""MM/GBSA: JAX energies against OpenMM's double-precision Reference platform, MM/GBSA
engines against each other, decomposition identities, alanine scanning, bootstrap and
interaction entropy against analytic results.

System: a 21-residue fragment of the 3URF RANKL/OPG interface (three RANKL segments, one
of them ~2 nm from OPG, and two OPG segments), each segment its own chain, prepared with
PDBFixer (missing atoms, hydrogens at pH 7)."""

from __future__ import annotations

import numpy as np
import openmm
import pytest
from helpers import fixed_segments
from openmm import app, unit

from rankbind.energies.alanine import (
    AlanineScanError,
    alanine_scan,
    interface_residues,
    truncatable,
    truncate_to_alanine,
)
from rankbind.energies.entropy import KB_KJ, interaction_entropy
from rankbind.energies.jax_energy import EnergyModel
from rankbind.energies.mmgbsa import (
    ComplexModel,
    MMGBSASettings,
    bootstrap_mean,
    build_system,
    mmgbsa,
    selection_atoms,
)
from rankbind.energies.parameters import UnsupportedSystemError, extract_parameters
from rankbind.errors import RankbindError

KCAL = 4.184


@pytest.fixture(scope="module")
def fragment():
    topology, x0 = fixed_segments()
    rng = np.random.default_rng(7)
    frames = x0[None] + rng.normal(0.0, 0.004, (3,) + x0.shape)
    receptor = [a.index for a in topology.atoms() if a.residue.chain.id in "ABC"]
    ligand = [a.index for a in topology.atoms() if a.residue.chain.id in "DE"]
    residues = {(r.chain.id, r.id): r.index for r in topology.residues()}
    return topology, frames, receptor, ligand, residues


def _reference_by_force(system, frames):
    """OpenMM Reference-platform energy per force type and forces, per frame."""
    system = openmm.XmlSerializer.clone(system)
    names = {}
    for k, force in enumerate(system.getForces()):
        force.setForceGroup(k)
        names[k] = type(force).__name__
    context = openmm.Context(
        system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference")
    )
    energies, forces = [], []
    for x in frames:
        context.setPositions(x)
        energies.append(
            {
                name: context.getState(getEnergy=True, groups={k})
                .getPotentialEnergy()
                .value_in_unit(unit.kilojoule_per_mole)
                for k, name in names.items()
            }
        )
        state = context.getState(getForces=True)
        forces.append(
            state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
        )
    return energies, np.array(forces)


def _compare(jax_components, reference):
    mapping = {
        "HarmonicBondForce": ["bond"],
        "HarmonicAngleForce": ["angle"],
        "PeriodicTorsionForce": ["torsion"],
        "CMAPTorsionForce": ["cmap"],
        "NonbondedForce": ["coulomb", "lj"],
        "CustomGBForce": ["gb", "ace"],
    }
    for f, ref in enumerate(reference):
        for name, value in ref.items():
            if name == "CMMotionRemover":
                continue
            ours = sum(jax_components[c][f] for c in mapping[name])
            assert abs(ours - value) / KCAL < 1e-6, (name, f, ours, value)
        total = sum(v[f] for v in jax_components.values())
        assert abs(total - sum(ref.values())) / KCAL < 0.01


def test_jax_gbn2_energy_and_forces_match_openmm_reference(fragment):
    topology, frames, *_ = fragment
    system = build_system(topology, MMGBSASettings(gb_model="GBn2", nonpolar="ace"))
    params = extract_parameters(system)
    assert params.gb.model == "GBn2" and params.gb.neck and params.gb.ace
    assert params.gb.offset == pytest.approx(0.0195141)
    model = EnergyModel(params, batch_size=2, block=128)
    components = model.components(frames)
    reference, ref_forces = _reference_by_force(system, frames)
    _compare(components, reference)
    assert abs(components["gb"][0]) > 1000  # a real GB energy, not an empty term
    forces = model.forces(frames)
    scale = np.abs(ref_forces).max()
    assert scale > 1000
    np.testing.assert_allclose(forces, ref_forces, atol=1e-8 * scale, rtol=0)


@pytest.mark.parametrize(
    "forcefield, gb_model", [("amber14-all.xml", "OBC2"), ("amber19-all.xml", "GBn2")]
)
def test_jax_energy_matches_openmm_obc2_salt_and_amber19_cmap(fragment, forcefield, gb_model):
    topology, frames, *_ = fragment
    salt = 0.15 if gb_model == "OBC2" else 0.0  # also covers the Debye-screened terms
    settings = MMGBSASettings(
        forcefield=(forcefield,), gb_model=gb_model, nonpolar="none", salt_concentration=salt
    )
    system = build_system(topology, settings)
    params = extract_parameters(system)
    assert params.gb.model == gb_model and not params.gb.ace
    assert params.gb.kappa == pytest.approx(settings.kappa) and (params.gb.kappa > 0) == (salt > 0)
    assert (params.cmap is not None) == (forcefield == "amber19-all.xml")
    components = EnergyModel(params, batch_size=4, block=128).components(frames)
    reference, _ = _reference_by_force(system, frames)
    _compare(components, reference)
    if params.cmap is not None:
        assert abs(components["cmap"][0]) > 1.0


def test_unsupported_systems_are_rejected(fragment):
    topology, *_ = fragment
    forcefield = app.ForceField("amber14-all.xml", "implicit/gbn2.xml")
    system = forcefield.createSystem(
        topology, nonbondedMethod=app.CutoffNonPeriodic, nonbondedCutoff=1.0 * unit.nanometer
    )
    with pytest.raises(UnsupportedSystemError, match="NoCutoff"):
        extract_parameters(system)


@pytest.fixture(scope="module")
def wild_type(fragment):
    topology, frames, receptor, ligand, _ = fragment
    settings = MMGBSASettings(entropy="interaction", n_bootstrap=200)
    model = ComplexModel(topology, receptor, ligand, settings)
    return model, mmgbsa(topology, frames, receptor, ligand, settings, decompose=True, model=model)


def test_mmgbsa_jax_matches_openmm_engine_and_decomposes_exactly(fragment, wild_type):
    topology, frames, receptor, ligand, _ = fragment
    model, jax_result = wild_type
    reference = mmgbsa(
        topology,
        frames,
        receptor,
        ligand,
        model.settings.replace(engine="openmm"),
        model=model,
    )
    np.testing.assert_allclose(
        jax_result.delta_total / KCAL, reference.delta_total / KCAL, atol=0.01, rtol=0
    )
    for part in ("complex", "receptor", "ligand"):
        for name, values in getattr(reference, part).items():
            np.testing.assert_allclose(getattr(jax_result, part)[name], values, atol=1e-3)
    # single trajectory: bonded terms cancel exactly; binding is driven by real interactions
    for name in ("bond", "angle", "torsion"):
        assert np.abs(jax_result.delta[name]).max() < 1e-6
    assert np.all(jax_result.delta["coulomb"] + jax_result.delta["lj"] < -50)
    assert np.all(jax_result.delta["nonpolar"] < 0)  # buried surface
    # per-residue contributions sum to the frame's ΔG
    decomposition = jax_result.decomposition
    np.testing.assert_allclose(
        decomposition.per_residue_frames.sum(axis=1), jax_result.delta_total, atol=1e-3
    )
    # the far segment (chain C) contributes little; the strongest pair is in contact
    far = [k for k, r in enumerate(decomposition.residues) if r[0] == "C"]
    assert np.abs(decomposition.per_residue[far]).max() / KCAL < 0.5
    a, b = np.unravel_index(np.abs(decomposition.pairs).argmax(), decomposition.pairs.shape)
    ra = decomposition.residues[decomposition.receptor_residues[a]]
    rb = decomposition.residues[decomposition.ligand_residues[b]]
    atoms = {(r.chain.id, r.id): [x.index for x in r.atoms()] for r in topology.residues()}
    xa, xb = frames[0][atoms[ra[:2]]], frames[0][atoms[rb[:2]]]
    assert np.linalg.norm(xa[:, None] - xb[None], axis=-1).min() < 0.5
    # entropy is reported, and the result says so
    assert jax_result.entropy is not None and "interaction entropy" in jax_result.score_kind
    summary = jax_result.as_dict()
    assert summary["dG_bind"]["kcal_per_mol"] == pytest.approx(
        (jax_result.binding.mean + jax_result.entropy.minus_t_delta_s) / KCAL
    )
    assert summary["settings"]["nonbonded_method"].startswith("NoCutoff")


def test_split_through_a_molecule_is_rejected(fragment):
    topology, _, receptor, ligand, _ = fragment
    with pytest.raises(RankbindError, match="whole molecules"):
        ComplexModel(topology, receptor[:-3], ligand + receptor[-3:], MMGBSASettings())


def test_alanine_scan_far_interface_and_multi_residue(fragment, wild_type):
    topology, frames, receptor, ligand, residues = fragment
    far = residues[("C", "201")]  # PHE, ~1.9 nm from OPG
    hot = residues[("B", "241")]  # TYR lining the groove
    assert hot in interface_residues(topology, frames, receptor, ligand)
    assert far not in interface_residues(topology, frames, receptor, ligand)
    settings = MMGBSASettings(engine="openmm", n_bootstrap=200)
    wt, scans = alanine_scan(
        topology, frames, receptor, ligand, [[far], [hot], [far, hot]], settings
    )
    far_scan, hot_scan, both = scans
    assert abs(far_scan.ddg.mean) / KCAL < 0.1
    assert np.isfinite(hot_scan.ddg.mean) and abs(hot_scan.ddg.mean) / KCAL > 0.1
    assert both.label == "TYR241/B+PHE201/C->ALA"
    assert abs(both.ddg.mean - hot_scan.ddg.mean) / KCAL < 0.1
    assert hot_scan.hotspot == (hot_scan.ddg.mean / KCAL >= 1.0)
    # reproducible, and the JAX engine gives the same ΔΔG
    _, again = alanine_scan(topology, frames, receptor, ligand, [[hot]], settings, wild_type=wt)
    assert again[0].ddg.mean == hot_scan.ddg.mean and again[0].ddg.sem == hot_scan.ddg.sem
    _, jax_scan = alanine_scan(
        topology,
        frames,
        receptor,
        ligand,
        [[hot]],
        settings.replace(engine="jax"),
        wild_type=wild_type[1],
    )
    np.testing.assert_allclose(jax_scan[0].ddg_frames / KCAL, hot_scan.ddg_frames / KCAL, atol=0.01)


def test_truncation_geometry_and_refusals(fragment):
    topology, frames, _, _, residues = fragment
    tyr = residues[("B", "241")]
    mutant = truncate_to_alanine(topology, frames, [tyr])
    res = list(mutant.topology.residues())[tyr]
    assert res.name == "ALA"
    names = sorted(a.name for a in res.atoms())
    assert names == sorted(["N", "H", "CA", "HA", "CB", "HB1", "HB2", "HB3", "C", "O", "OXT"])
    index = {a.name: a.index for a in res.atoms()}
    cb = mutant.positions[:, index["CB"]]
    new_h = np.linalg.norm(mutant.positions[:, index["HB3"]] - cb, axis=1)
    np.testing.assert_allclose(new_h, 0.109, atol=1e-12)  # on the CB->CG vector
    wt = {a.name: a.index for a in list(topology.residues())[tyr].atoms()}
    cg = frames[:, wt["CG"]] - frames[:, wt["CB"]]
    along = mutant.positions[:, index["HB3"]] - cb
    np.testing.assert_allclose(np.cross(along, cg), 0.0, atol=1e-12)
    np.testing.assert_array_equal(mutant.positions[:, index["HB1"]], frames[:, wt["HB2"]])
    # C-terminal TYR: 22 atoms -> ALA with OXT: 11 (HB2/HB3 kept, one H replaces CG)
    assert mutant.topology.getNumAtoms() == topology.getNumAtoms() - 11
    assert truncatable(topology, tyr) is None
    assert "already ALA" in truncatable(mutant.topology, tyr)
    with pytest.raises(AlanineScanError, match="ALA241/B.*already ALA"):
        truncate_to_alanine(mutant.topology, mutant.positions, [tyr])
    with pytest.raises(AlanineScanError, match="outside the topology"):
        truncate_to_alanine(topology, frames, [10**6])


def test_bootstrap_matches_analytic_standard_error():
    rng = np.random.default_rng(3)
    values = rng.normal(5.0, 2.0, size=400)
    mean, sem = bootstrap_mean(values, n_bootstrap=2000, seed=11)
    analytic = values.std(ddof=1) / np.sqrt(len(values))
    assert mean == pytest.approx(values.mean())
    assert sem == pytest.approx(analytic, rel=0.1)
    assert bootstrap_mean(values, 2000, seed=11) == (mean, sem)
    assert bootstrap_mean(values, 2000, seed=12)[1] != sem


def test_interaction_entropy_gaussian_limit():
    temperature = 300.0
    kt = KB_KJ * temperature
    sigma = 1.5 * kt
    values = np.random.default_rng(5).normal(-100.0, sigma, size=20000)
    result = interaction_entropy(values, temperature, n_bootstrap=50, seed=1)
    assert result.minus_t_delta_s == pytest.approx(sigma**2 / (2 * kt), rel=0.05)
    assert result.converged and 0 < result.sem < 0.05 * result.minus_t_delta_s


def test_selection_atoms_split_receptor_and_ligand():
    from rankbind.structures import build_assembly

    assembly = build_assembly("3URF", "interface")
    topology, _ = assembly.to_openmm()
    rankl = selection_atoms(topology, assembly.chains, "RANKL")
    opg = selection_atoms(topology, assembly.chains, "OPG")
    both = selection_atoms(topology, assembly.chains, "RANKL/A+RANKL/C")
    assert rankl == both and not set(rankl) & set(opg)
    chains = {a.residue.chain.id for a in topology.atoms() if a.index in set(opg)}
    assert chains == {"R"}


def test_cli_writes_result_with_selections_and_scan(fragment, tmp_path):
    import argparse
    import json

    from rankbind.cli import mmgbsa as mmgbsa_cli
    from rankbind.errors import SelectionError

    topology, frames, *_ = fragment
    path = tmp_path / "fragment.pdb"
    with open(path, "w") as handle:
        for chain, molecule in zip("ABCDE", ["RANKL"] * 3 + ["OPG"] * 2, strict=True):
            handle.write(
                f"REMARK 250 CHAIN {chain} {molecule} human UNIPROT=- SOURCE={chain} "
                "BIOMT=1 NUMBERING=uniprot\n"
            )
        app.PDBFile.writeFile(topology, frames[0] * 10.0, handle, keepIds=True)
    parser = argparse.ArgumentParser()
    mmgbsa_cli.configure(parser)
    out = tmp_path / "result.json"
    args = parser.parse_args(
        [str(path), "--receptor", "RANKL", "--ligand", "OPG", "--engine", "openmm"]
        + ["--mutant", "C:201", "--bootstrap", "50", "-o", str(out)]
    )
    assert mmgbsa_cli.run(args) == 0
    result = json.loads(out.read_text())
    assert result["n_frames"] == 1 and "no solute entropy" in result["score_kind"]
    assert result["settings"]["gb_model"] == "GBn2"
    assert result["settings"]["forcefield"] == ["amber14-all.xml", "implicit/gbn2.xml"]
    assert np.isfinite(result["dG_bind"]["kcal_per_mol"])
    (mutant,) = result["alanine_scan"]["mutants"]
    assert mutant["mutation"] == "PHE201/C->ALA" and abs(mutant["ddG"]["kcal_per_mol"]) < 0.1
    bad = parser.parse_args(
        [str(path), "--receptor-chains", "Q", "--ligand", "OPG", "-o", str(out)]
    )
    with pytest.raises(SelectionError, match="Q"):
        mmgbsa_cli.run(bad)


def test_pair_matrix_is_the_gas_phase_interaction_without_solvent(fragment):
    """With solvent dielectric = solute dielectric the GB terms vanish, so the residue pair
    matrix must sum to ΔE_coulomb + ΔE_LJ of the same frame."""
    topology, frames, receptor, ligand, _ = fragment
    settings = MMGBSASettings(
        solvent_dielectric=1.0, salt_concentration=0.0, nonpolar="none", n_bootstrap=10
    )
    result = mmgbsa(topology, frames[:1], receptor, ligand, settings, decompose=True)
    assert np.abs(result.delta["gb"]).max() < 1e-9
    direct = result.delta["coulomb"][0] + result.delta["lj"][0]
    assert abs(direct) > 100
    assert result.decomposition.pairs.sum() == pytest.approx(direct, abs=1e-6)


@pytest.mark.parametrize("gb_model", ["GBn2", "OBC2"])
def test_solute_dielectric_scales_coulomb_and_gb_consistently(fragment, gb_model):
    """Reference: OpenMM's own System with soluteDielectric=2 (its GB force at ε_in = 2)
    and its unscaled NonbondedForce Coulomb energy divided by 2; both MM/GBSA engines."""
    topology, frames, receptor, ligand, _ = fragment
    frames = frames[:2]
    eps_in = 2.0
    forcefield = app.ForceField("amber14-all.xml", f"implicit/{gb_model.lower()}.xml")
    native = forcefield.createSystem(
        topology,
        nonbondedMethod=app.NoCutoff,
        constraints=None,
        soluteDielectric=eps_in,
        sasaMethod=None,
    )
    reference, _ = _reference_by_force(native, frames)
    lj_only = openmm.XmlSerializer.clone(native)
    nb = [f for f in lj_only.getForces() if isinstance(f, openmm.NonbondedForce)][0]
    for i in range(nb.getNumParticles()):
        q, s, e = nb.getParticleParameters(i)
        nb.setParticleParameters(i, 0.0, s, e)
    for i in range(nb.getNumExceptions()):
        a, b, qq, s, e = nb.getExceptionParameters(i)
        nb.setExceptionParameters(i, a, b, 0.0, s, e)
    lj_reference, _ = _reference_by_force(lj_only, frames)
    settings = MMGBSASettings(
        gb_model=gb_model, solute_dielectric=eps_in, nonpolar="none", salt_concentration=0.0
    )  # the reference System has no salt screening
    params = extract_parameters(build_system(topology, settings))
    assert params.gb.solute_dielectric == eps_in
    ours = EnergyModel(params, batch_size=2, block=128).components(frames)
    for f in range(len(frames)):
        coulomb_at_1 = reference[f]["NonbondedForce"] - lj_reference[f]["NonbondedForce"]
        assert abs(coulomb_at_1) > 100  # a real Coulomb energy
        assert ours["coulomb"][f] == pytest.approx(coulomb_at_1 / eps_in, abs=1e-4)
        assert ours["lj"][f] == pytest.approx(lj_reference[f]["NonbondedForce"], abs=1e-4)
        assert ours["gb"][f] == pytest.approx(reference[f]["CustomGBForce"], abs=1e-4)
    # both engines give the same ΔG, and ΔCoulomb is the ε_in = 1 value over ε_in
    model = ComplexModel(topology, receptor, ligand, settings)
    jax_run = mmgbsa(topology, frames, receptor, ligand, settings, model=model)
    omm_run = mmgbsa(
        topology,
        frames,
        receptor,
        ligand,
        settings.replace(engine="openmm"),
        model=model,
    )
    np.testing.assert_allclose(jax_run.delta_total, omm_run.delta_total, atol=1e-3)
    at_one = mmgbsa(topology, frames, receptor, ligand, settings.replace(solute_dielectric=1.0))
    np.testing.assert_allclose(
        jax_run.delta["coulomb"], at_one.delta["coulomb"] / eps_in, rtol=1e-9, atol=1e-6
    )
    assert "Coulomb/eps_in" in jax_run.as_dict()["settings"]["electrostatics"]


def test_interface_trim_keeps_the_engines_equal_and_whole_trim_is_exact(fragment):
    from rankbind.energies.mmgbsa import trim_residues

    topology, frames, receptor, ligand, residues = fragment
    frames = frames[:2]
    base = MMGBSASettings(nonpolar="none", n_bootstrap=50)
    whole = mmgbsa(topology, frames, receptor, ligand, base)
    wide = mmgbsa(topology, frames, receptor, ligand, base.replace(trim_nm=5.0))
    np.testing.assert_allclose(wide.delta_total, whole.delta_total, atol=1e-6)
    trim = base.replace(trim_nm=0.6)
    keep = trim_residues(topology, frames, receptor, ligand, 0.6)
    # independent: brute-force residue distances
    heavy = [a for a in topology.atoms() if a.element.symbol != "H"]
    lig_set = set(ligand)
    brute = set()
    for a in heavy:
        for b in heavy:
            if (a.index in lig_set) != (b.index in lig_set):
                if np.linalg.norm(frames[:, a.index] - frames[:, b.index], axis=1).min() < 0.6:
                    brute.add(a.residue.index)
    assert set(keep) == brute
    assert residues[("C", "201")] not in keep and residues[("B", "241")] in keep
    model = ComplexModel(topology, receptor, ligand, trim, keep)
    assert len(model.atoms) < topology.getNumAtoms()
    jax_run = mmgbsa(topology, frames, receptor, ligand, trim, model=model)
    omm_run = mmgbsa(topology, frames, receptor, ligand, trim.replace(engine="openmm"), model=model)
    np.testing.assert_allclose(jax_run.delta_total, omm_run.delta_total, atol=1e-3)
    assert jax_run.info["trimmed_residues"] == len(keep)
    assert "0.6 nm" in jax_run.as_dict()["settings"]["interface_trim"]
    # the trimmed ΔG stays close to the whole-complex one on this compact interface
    assert abs(jax_run.binding.mean - whole.binding.mean) / KCAL < 3.0


def test_alanine_mutant_jax_energy_equals_openmm_of_the_mutant_system(fragment):
    """Reference: an OpenMM System built by ForceField.createSystem directly on the
    truncated mutant's Topology (not via rankbind), evaluated on the Reference platform."""
    topology, frames, receptor, ligand, residues = fragment
    frames = frames[:2]
    mutant = truncate_to_alanine(topology, frames, [residues[("B", "241")]])
    rec, lig = mutant.atoms_from(receptor), mutant.atoms_from(ligand)
    settings = MMGBSASettings(nonpolar="none", solute_dielectric=2.0, salt_concentration=0.0)
    model = ComplexModel(mutant.topology, rec, lig, settings)
    ours = model.model.components(mutant.positions[:, model.atoms])
    system = app.ForceField("amber14-all.xml", "implicit/gbn2.xml").createSystem(
        model.topology,
        nonbondedMethod=app.NoCutoff,
        constraints=None,
        soluteDielectric=2.0,
        sasaMethod=None,
    )
    reference, _ = _reference_by_force(system, mutant.positions[:, model.atoms])
    lj = openmm.XmlSerializer.clone(system)
    nb = [f for f in lj.getForces() if isinstance(f, openmm.NonbondedForce)][0]
    for i in range(nb.getNumParticles()):
        nb.setParticleParameters(i, 0.0, *nb.getParticleParameters(i)[1:])
    for i in range(nb.getNumExceptions()):
        a, b, _, s, e = nb.getExceptionParameters(i)
        nb.setExceptionParameters(i, a, b, 0.0, s, e)
    lj_ref, _ = _reference_by_force(lj, mutant.positions[:, model.atoms])
    for f in range(len(frames)):
        coulomb = reference[f]["NonbondedForce"] - lj_ref[f]["NonbondedForce"]
        expected = sum(v for k, v in reference[f].items() if k != "CMMotionRemover")
        expected -= coulomb * (1 - 1 / 2.0)  # rankbind's consistent ε_in: Coulomb / 2
        total = sum(v[f] for v in ours.values())
        assert total == pytest.approx(expected, abs=1e-3)


def test_dielectric_variants_from_eps1_components_equal_direct_evaluation(fragment):
    from rankbind.energies.variants import VARIANTS, rescale, settings_for, variant_total

    topology, frames, receptor, ligand, _ = fragment
    frames = frames[:1]
    at_one = mmgbsa(topology, frames, receptor, ligand, settings_for("obc2_e1"))
    # the direct reference: OpenMM's own energies of a System built at ε_in = 4
    direct = mmgbsa(topology, frames, receptor, ligand, settings_for("obc2_e4", engine="openmm"))
    comps = {k: float(v[0]) for k, v in at_one.delta.items()}
    scaled = rescale(comps, 4.0)
    for k in ("coulomb", "gb", "lj", "nonpolar"):
        assert scaled[k] == pytest.approx(float(direct.delta[k][0]), abs=1e-6)
    assert variant_total(comps, "obc2_e4") == pytest.approx(direct.delta_total[0], abs=1e-5)
    assert variant_total(comps, "obc2_e4_nonp0") == pytest.approx(
        direct.delta_total[0] - direct.delta["nonpolar"][0], abs=1e-5
    )
    # residue-type ε_in: charged 4, polar 2, nonpolar 1
    assert variant_total(comps, "obc2_eres", "LYS") == pytest.approx(direct.delta_total[0])
    assert variant_total(comps, "obc2_eres", "LEU") == pytest.approx(at_one.delta_total[0])
    assert {"gbn2_e2", "obc2_e1_nonp0", "gbn2_eres"} <= set(VARIANTS)


def test_native_obc2_equals_the_custom_gb_force(fragment):
    """OpenMM's GBSAOBCForce (the relax) gives the CustomGBForce OBC2 energy of the XML."""
    from rankbind.energies.mmgbsa import native_obc2

    topology, frames, *_ = fragment
    for nonpolar in ("ace", "none"):
        custom = build_system(
            topology, MMGBSASettings(gb_model="OBC2", salt_concentration=0.0, nonpolar=nonpolar)
        )
        native = native_obc2(custom)
        assert not any(isinstance(f, openmm.CustomGBForce) for f in native.getForces())
        a = sum(_reference_by_force(custom, frames[:1])[0][0].values())
        b = sum(_reference_by_force(native, frames[:1])[0][0].values())
        assert b == pytest.approx(a, abs=1e-3)


def test_coulomb_lj_split_sums_to_the_nonbonded_energy_and_coulomb_is_analytic(fragment):
    """openmm_components' coulomb + lj = OpenMM's NonbondedForce energy; coulomb equals a
    numpy sum over non-excluded pairs plus exceptions (NoCutoff)."""
    from rankbind.energies.mmgbsa import openmm_components

    topology, frames, *_ = fragment
    system = build_system(topology, MMGBSASettings(salt_concentration=0.0, nonpolar="none"))
    ours = openmm_components(system, frames[:1])
    reference = _reference_by_force(system, frames[:1])[0][0]
    assert ours["coulomb"][0] + ours["lj"][0] == pytest.approx(
        reference["NonbondedForce"], abs=1e-4
    )
    nb = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    q = np.array([nb.getParticleParameters(i)[0]._value for i in range(nb.getNumParticles())])
    x = frames[0]
    r = np.linalg.norm(x[:, None] - x[None], axis=-1)
    np.fill_diagonal(r, np.inf)
    pair = 138.935456 * np.outer(q, q) / r
    excluded = np.zeros_like(pair, dtype=bool)
    extra = 0.0
    for i in range(nb.getNumExceptions()):
        a, b, qq, _, _ = nb.getExceptionParameters(i)
        excluded[a, b] = excluded[b, a] = True
        extra += 138.935456 * qq._value / r[a, b]
    analytic = 0.5 * pair[~excluded].sum() + extra
    assert ours["coulomb"][0] == pytest.approx(analytic, rel=1e-5)


def test_restrained_relax_reports_the_energy_it_reached(fragment):
    """ComplexModel.relax: the returned positions' OBC2 energy (OpenMM Reference, no
    restraint) plus the numpy restraint energy is the recorded final energy; restrained
    heavy atoms barely move, a free side chain can."""
    from rankbind.energies.mmgbsa import native_obc2

    topology, frames, receptor, ligand, residues = fragment
    settings = MMGBSASettings(salt_concentration=0.0, trim_nm=1.0)
    model = ComplexModel(topology, receptor, ligand, settings)
    x0 = frames[0][model.atoms]
    x1, record = model.relax(x0, restraint_k=1000.0, max_iterations=30)
    assert record["energy_after_kJ_per_mol"] < record["energy_before_kJ_per_mol"]
    obc2 = native_obc2(
        build_system(
            model.topology,
            settings.replace(gb_model="OBC2", nonpolar="none"),
        )
    )
    e = sum(_reference_by_force(obc2, x1[None])[0][0].values())
    heavy = np.array([a.element.symbol != "H" for a in model.topology.atoms()])
    restraint = 0.5 * 1000.0 * np.sum((x1[heavy] - x0[heavy]) ** 2)
    assert e + restraint == pytest.approx(record["energy_after_kJ_per_mol"], abs=0.05)
    soft = np.max(np.linalg.norm(x1[heavy] - x0[heavy], axis=1))
    x2, _ = model.relax(x0, restraint_k=1e5, max_iterations=30)
    stiff = np.max(np.linalg.norm(x2[heavy] - x0[heavy], axis=1))
    assert stiff < soft / 3


def test_substitute_to_alanine_matches_truncation_and_parametrises(fragment):
    """The mutation layer's rebuilt ALA has the truncated ALA's heavy atoms at the same
    places (N, CA, C, O, CB kept), the ALA template's atoms, and everything else unchanged."""
    from rankbind.modelling.mutations import substitute

    topology, frames, receptor, ligand, residues = fragment
    r = next(
        k
        for k, res in enumerate(topology.residues())
        if res.name in ("LEU", "PHE", "TYR", "LYS") and truncatable(topology, k) is None
    )
    top, x, parent, free = substitute(topology, frames[0], {r: "ALA"})
    cut = truncate_to_alanine(topology, frames[:1], [r])
    new = list(top.residues())[r]
    ref = list(cut.topology.residues())[r]
    assert new.name == "ALA" and [a.name for a in new.atoms() if a.index in free] == ["CB"]
    assert {a.name for a in new.atoms()} == {a.name for a in ref.atoms()}
    for a in (a for a in new.atoms() if a.element.symbol != "H"):
        b = next(b for b in ref.atoms() if b.name == a.name)
        assert np.allclose(x[a.index], cut.positions[0, b.index], atol=2e-4)  # PDB rounding
    others = [a.index for a in top.atoms() if a.residue.index != r]
    assert np.array_equal(x[others], frames[0][parent[others]])
    build_system(top, MMGBSASettings())  # amber14 templates match every residue
    trp, xt, _, free_t = substitute(topology, frames[0], {r: "TRP"})
    assert len(free_t) == 10 and list(trp.residues())[r].name == "TRP"  # CB..CH2
    build_system(trp, MMGBSASettings())
