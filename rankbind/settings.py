"""One settings vocabulary: typed, validated models for physics, platform, preparation,
simulation, MM/GBSA, docking and umbrella sampling.

These models are the ONE source of defaults. The Python API takes them as arguments, the
CLI flags take their defaults from them (``default_of``), and a protocol's ``physics`` and
``platform`` blocks validate through :class:`PhysicsSettings` and :class:`PlatformSettings`.

Units: plain floats with the unit in the field name (``temperature_K``, ``padding_nm``).
Quantity fields also accept a string with a unit (``"4 fs"``, ``"150 mM"``, ``"310 K"``) or an
OpenMM Quantity, converted once, here. Protocol files use the short key names (the aliases:
``temperature``, ``timestep``, ``salt``, ...); the API uses either.

Every model forbids unknown keys and non-finite numbers; a bad value raises
:class:`~rankbind.errors.SettingsError` naming the key path, the value and what is allowed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple, get_args

import openmm.unit as u
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from rankbind.debye import debye_kappa
from rankbind.errors import SettingsError
from rankbind.units import DIMENSIONS, UnitError, parse_quantity

FORCEFIELDS = {
    # name: (protein file, {water model: water file})
    "amber14": ("amber14-all.xml", {"tip3p": "amber14/tip3p.xml", "opc": "amber14/opc.xml"}),
    "amber19": ("amber19-all.xml", {"opc": "amber19/opc.xml", "tip3p": "amber19/tip3p.xml"}),
}
# the water model each force field was fitted with (used when none is given)
NATIVE_WATER = {"amber14": "tip3p", "amber19": "opc"}
GB_MODELS = {"GBn2": "implicit/gbn2.xml", "OBC2": "implicit/obc2.xml"}
SOLVENTS = ("explicit", "implicit", "vacuum")
BOX_SHAPES = ("cube", "dodecahedron", "octahedron")
CONSTRAINTS = ("None", "HBonds", "AllBonds", "HAngles")
PLATFORMS = ("auto", "CUDA", "HIP", "OpenCL", "CPU", "Reference")
PRECISIONS = ("mixed", "single", "double")
# protocol solvent word -> (PreparationOptions.solvent, gb_model)
PROTOCOL_SOLVENTS = {
    "gbn2": ("implicit", "GBn2"),
    "obc2": ("implicit", "OBC2"),
    "explicit": ("explicit", "GBn2"),
    "vacuum": ("vacuum", "GBn2"),
}

# Shared physics defaults (every model below takes these, so API, CLI and YAML agree)
TEMPERATURE_K = 300.0
SALT_MOLAR = 0.15
HYDROGEN_MASS_AMU = 1.5  # HMR: 4 fs steps when timestep_fs is None
GB_MODEL = "GBn2"
SEED = 2024

_MAX_SHOWN = 80


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _to_unit(dimension: str, target: u.Unit):
    def convert(value: Any) -> Any:
        if isinstance(value, u.Quantity):
            if not value.unit.is_compatible(target):
                raise ValueError(f"{value} is not a {dimension}")
            return value.value_in_unit(target)
        if isinstance(value, str):
            try:
                return parse_quantity(value, dimension).value_in_unit(target)
            except UnitError as exc:
                raise ValueError(str(exc)) from None
        return value

    return convert


def Q(dimension: str, symbol: str):
    """A float in unit ``symbol`` (one of rankbind.units.DIMENSIONS[dimension]); accepts a
    number (in that unit), a string with any unit of the dimension, or a Quantity.
    Serialised (JSON mode) as ``"<value> <symbol>"``, which parses back."""
    target = DIMENSIONS[dimension][2][symbol]
    return Annotated[
        float,
        BeforeValidator(_to_unit(dimension, target)),
        PlainSerializer(lambda v: f"{v!r} {symbol}", when_used="json"),
        _Quantity(dimension, symbol),
    ]


class _Quantity(NamedTuple):
    """Marks a quantity field: in files (keys without a unit suffix) it needs a unit."""

    dimension: str
    symbol: str


def _quantity_of(annotation: Any) -> _Quantity | None:
    for arg in (annotation, *get_args(annotation)):
        for meta in getattr(arg, "__metadata__", ()):
            if isinstance(meta, _Quantity):
                return meta
        if get_args(arg) and arg is not annotation:
            found = _quantity_of(arg)
            if found:
                return found
    return None


def _platform_name(value: Any) -> Any:
    """OpenMM platform names in any case ('cuda' -> 'CUDA')."""
    if isinstance(value, str):
        return next((p for p in PLATFORMS if p.lower() == value.lower()), value)
    return value


def _none_word(value: Any) -> Any:
    return "None" if isinstance(value, str) and value.lower() == "none" else value


class Settings(BaseModel):
    """Base: unknown keys and NaN/inf rejected, immutable, defaults validated too."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        populate_by_name=True,
        validate_default=True,
    )

    def __init__(self, **data: Any):
        try:
            super().__init__(**data)
        except ValidationError as exc:
            error = SettingsError(describe(exc, type(self).__name__, type(self)))
            error.validation = exc
            raise error from None

    @classmethod
    def load(cls, data: Any, where: str = ""):
        """Validate ``data`` (a mapping, e.g. a YAML block); errors start with ``where``. Quantities
        given by their file key (``temperature``, not ``temperature_K``) need a unit."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise SettingsError(f"{where}: expected a mapping, got {_short(data)}")
        for field in cls.model_fields.values():
            quantity = _quantity_of(field.annotation)
            value = data.get(field.alias) if field.alias else None
            if quantity and isinstance(value, int | float) and not isinstance(value, bool):
                raise SettingsError(
                    f"{where}.{field.alias}: expected a {quantity.dimension} with a unit, e.g. "
                    f"'{value} {quantity.symbol}' (got {_short(value)})"
                )
        try:
            return cls(**{str(k): v for k, v in data.items()})
        except SettingsError as exc:
            raise SettingsError(describe(exc.validation, where, cls)) from None

    def replace(self, **changes: Any):
        """A copy with ``changes`` applied and validated."""
        return type(self)(**(self.model_dump() | changes))

    def as_dict(self) -> dict:
        return self.model_dump()


def _allowed_keys(model: type[BaseModel]) -> str:
    return ", ".join(f.alias or n for n, f in model.model_fields.items())


def describe(exc: ValidationError, where: str = "", model: type[BaseModel] | None = None) -> str:
    """One line per problem: ``key.path: what is wrong (got VALUE)``."""
    lines = []
    for error in exc.errors(include_url=False):
        path = where
        for part in error["loc"]:
            path = (
                f"{path}[{part}]"
                if isinstance(part, int)
                else (f"{path}.{part}" if path else str(part))
            )
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden" and model is not None and len(error["loc"]) == 1:
            message = f"unknown key (allowed: {_allowed_keys(model)})"
        if "than" in error["type"] and model is not None and error["loc"]:
            field = next(
                (f for n, f in model.model_fields.items() if error["loc"][0] in (n, f.alias)),
                None,
            )
            quantity = _quantity_of(field.annotation) if field else None
            message += f" {quantity.symbol}" if quantity else ""
        shown = "" if error["type"] in ("missing",) else f" (got {_short(error.get('input'))})"
        lines.append(f"{path}: {message}{shown}")
    return "; ".join(lines)


def default_of(model: type[BaseModel], name: str) -> Any:
    """The default of field ``name`` (for CLI flags)."""
    return model.model_fields[name].default


# --------------------------------------------------------------------------- physics


class PhysicsSettings(Settings):
    """Physics shared by every stage of a run (a protocol's ``physics`` block).

    Defaults: amber14 with its native TIP3P (amber19: OPC), GBn2 implicit solvent, 300 K,
    0.15 M salt, HBonds constraints with hydrogen mass repartitioning to 1.5 amu, and the
    timestep chosen from the system (4 fs with HMR, else 2 fs)."""

    forcefield: Literal["amber14", "amber19"] = "amber14"
    solvent: Literal["gbn2", "obc2", "explicit", "vacuum"] = "gbn2"
    water_model: Literal["tip3p", "opc"] | None = Field(
        None, description="None: the force field's own (tip3p for amber14, opc for amber19)"
    )
    temperature_K: Q("temperature", "K") = Field(TEMPERATURE_K, ge=200, le=500, alias="temperature")
    pressure_bar: Q("pressure", "bar") = Field(1.0, ge=0.5, le=1000, alias="pressure")
    timestep_fs: Q("time", "fs") | None = Field(
        None, ge=0.1, le=5.0, alias="timestep", description="None: 4 fs with HMR, else 2 fs"
    )
    friction_per_ps: float = Field(1.0, gt=0.0, le=100.0, alias="friction")
    constraints: Annotated[Literal[CONSTRAINTS], BeforeValidator(_none_word)] = "HBonds"
    hydrogen_mass_amu: float | None = Field(
        HYDROGEN_MASS_AMU, ge=1.0, le=4.0, alias="hydrogen_mass", description="None: no HMR"
    )
    salt_molar: Q("concentration", "M") = Field(SALT_MOLAR, ge=0.0, le=2.0, alias="salt")
    nonbonded_cutoff_nm: Q("length", "nm") = Field(1.0, ge=0.5, le=3.0, alias="nonbonded_cutoff")
    implicit_cutoff_nm: Q("length", "nm") | None = Field(
        None, ge=1.0, le=5.0, alias="implicit_cutoff", description="None: no cutoff (exact GB)"
    )

    @model_validator(mode="after")
    def _water(self):
        if self.water_model is not None and self.water_model not in FORCEFIELDS[self.forcefield][1]:
            raise ValueError(
                f"water_model {self.water_model!r} is not available with {self.forcefield} "
                f"(allowed: {', '.join(FORCEFIELDS[self.forcefield][1])})"
            )
        return self

    def preparation(self, **params: Any) -> PreparationOptions:
        """PreparationOptions for this physics; ``params``: the preparation-only fields."""
        solvent, gb_model = PROTOCOL_SOLVENTS[self.solvent]
        return PreparationOptions(
            forcefield=self.forcefield,
            solvent=solvent,
            gb_model=gb_model,
            water_model=self.water_model,
            temperature_K=self.temperature_K,
            ionic_strength_molar=self.salt_molar,
            hydrogen_mass_amu=self.hydrogen_mass_amu,
            constraints=self.constraints,
            nonbonded_cutoff_nm=self.nonbonded_cutoff_nm,
            implicit_cutoff_nm=self.implicit_cutoff_nm,
            **params,
        )

    def simulation(self, **params: Any) -> SimulationOptions:
        """SimulationOptions for this physics; ``params``: stage lengths, intervals, seed."""
        return SimulationOptions(
            temperature_K=self.temperature_K,
            pressure_bar=self.pressure_bar,
            friction_per_ps=self.friction_per_ps,
            timestep_fs=self.timestep_fs,
            **params,
        )

    def mmgbsa(self, **params: Any) -> MMGBSASettings:
        """MMGBSASettings at this run's temperature, salt and GB model."""
        gb_model = PROTOCOL_SOLVENTS[self.solvent][1] if self.solvent != "explicit" else GB_MODEL
        return MMGBSASettings(
            **(
                {
                    "forcefield": (FORCEFIELDS[self.forcefield][0],),
                    "gb_model": gb_model,
                    "salt_concentration": self.salt_molar,
                    "temperature": self.temperature_K,
                }
                | params
            )
        )

    def data(self) -> dict:
        """Plain data with the protocol's key names and unit strings (parses back)."""
        return self.model_dump(mode="json", by_alias=True)


class PlatformSettings(Settings):
    """Where MD runs (a protocol's ``platform`` block)."""

    name: Annotated[Literal[PLATFORMS], BeforeValidator(_platform_name)] = "auto"
    precision: Literal[PRECISIONS] = "mixed"
    device_index: int | None = Field(None, ge=0, description="GPU index (CUDA/OpenCL/HIP)")


# --------------------------------------------------------------------------- preparation


class PreparationOptions(Settings):
    """Physics and cleaning choices. Units: nm, molar, amu, K.

    Defaults: amber14 (ff14SB) in GBn2 implicit solvent at pH 7.0 with 0.15 M salt
    (Debye screening in GB at ``temperature_K``; Na+/Cl- ions when explicit), HBonds
    constraints and hydrogen mass repartitioning to 1.5 amu (allows 4 fs steps). amber19
    means ff19SB with OPC, the water model it was fitted with."""

    forcefield: Literal[tuple(FORCEFIELDS)] = "amber14"
    solvent: Literal[SOLVENTS] = "implicit"
    gb_model: Literal[tuple(GB_MODELS)] = GB_MODEL
    water_model: Literal["tip3p", "opc"] | None = None  # None: NATIVE_WATER[forcefield]
    ph: float = Field(7.0, ge=0.0, le=14.0)
    temperature_K: float = Field(TEMPERATURE_K, ge=200, le=500)
    ionic_strength_molar: float = Field(SALT_MOLAR, ge=0.0, le=5.0)
    padding_nm: float = Field(1.0, gt=0.0)
    box_shape: Literal[BOX_SHAPES] = "dodecahedron"
    remove_water: bool = True
    remove_ions: bool = True
    remove_glycans: bool = True
    rebuild_internal_loops: bool = True
    hydrogen_mass_amu: float | None = Field(HYDROGEN_MASS_AMU, ge=1.0, le=4.0)
    constraints: Annotated[Literal[CONSTRAINTS], BeforeValidator(_none_word)] = "HBonds"
    nonbonded_cutoff_nm: float = Field(1.0, gt=0.0)
    implicit_cutoff_nm: float | None = Field(None, ge=1.0)  # None: NoCutoff (exact GB)
    seed: int = SEED
    protonation: Literal["template", "propka"] = "template"  # propka: PROPKA + PDB2PQR flips
    relax: Literal["none", "implicit"] = "none"  # implicit: OBC2, heavy atoms restrained
    relax_restraint_k: float = Field(1000.0, ge=0.0)  # kJ/mol/nm², heavy-atom restraint
    relax_max_iterations: int = Field(200, ge=0)
    isolated_residues: Literal["error", "remove"] = Field(
        "error",
        description="amino acids standing alone (an unbuilt gap or chain end on both "
        "sides, no peptide bond: a free amino acid, which the force fields have no template "
        "for): a clear error, or removed (listed in the metadata)",
    )

    @model_validator(mode="after")
    def _water(self):
        if self.resolved_water_model() not in FORCEFIELDS[self.forcefield][1]:
            raise ValueError(
                f"water_model {self.water_model!r} is not available with {self.forcefield} "
                f"(allowed: {', '.join(FORCEFIELDS[self.forcefield][1])})"
            )
        return self

    def resolved_water_model(self) -> str:
        return self.water_model or NATIVE_WATER[self.forcefield]

    def forcefield_files(self) -> list[str]:
        protein, waters = FORCEFIELDS[self.forcefield]
        files = [protein]
        if self.solvent == "explicit" or not self.remove_ions:
            files.append(waters[self.resolved_water_model()])
        if self.solvent == "implicit":
            files.append(GB_MODELS[self.gb_model])
        return files


# --------------------------------------------------------------------------- simulation


class SimulationOptions(Settings):
    """Run-time physics and output choices. Units: K, bar, 1/ps, fs, ps, kJ/mol/nm².

    ``timestep_fs`` None means 4 fs when the system has hydrogen mass repartitioning
    (H mass ≥ 1.5 amu) and 2 fs otherwise. Stage lengths of 0 skip the stage; NPT is
    skipped for non-periodic (implicit/vacuum) systems."""

    temperature_K: float = Field(TEMPERATURE_K, gt=0.0)
    pressure_bar: float = Field(1.0, gt=0.0)
    friction_per_ps: float = Field(1.0, gt=0.0)
    timestep_fs: float | None = Field(None, gt=0.0)
    minimise_tolerance_kJ_mol_nm: float = Field(10.0, gt=0.0)
    minimise_max_iterations: int = Field(1000, ge=0)
    nvt_ps: float = Field(100.0, ge=0.0)
    npt_ps: float = Field(100.0, ge=0.0)
    production_ps: float = Field(1000.0, ge=0.0)
    restraint_k_kJ_mol_nm2: float = Field(1000.0, ge=0.0)
    report_interval_steps: int = Field(1000, gt=0)
    checkpoint_interval_steps: int = Field(10000, gt=0)
    seed: int = 1
    max_energy_per_atom_kJ_mol: float = Field(1.0e4, gt=0.0)

    @model_validator(mode="after")
    def _intervals(self):
        if self.checkpoint_interval_steps % self.report_interval_steps:
            raise ValueError(
                f"checkpoint_interval_steps ({self.checkpoint_interval_steps}) must be a "
                f"multiple of report_interval_steps ({self.report_interval_steps})"
            )
        return self


# --------------------------------------------------------------------------- MM/GBSA


class MMGBSASettings(Settings):
    """Physics choices, recorded with every result. Lengths nm, temperature K."""

    forcefield: tuple[str, ...] = (FORCEFIELDS["amber14"][0],)
    gb_model: Literal[tuple(GB_MODELS)] = GB_MODEL  # "GBn2" (igb=8) or "OBC2" (igb=5)
    solute_dielectric: float = Field(1.0, gt=0.0)
    solvent_dielectric: float = Field(78.5, gt=0.0)
    salt_concentration: float = Field(SALT_MOLAR, ge=0.0, le=5.0)  # mol/L -> Debye κ (kappa)
    nonpolar: Literal["sasa", "ace", "none"] = "sasa"
    surface_tension: float = Field(0.0072, ge=0.0)  # kcal/mol/Å² (nonpolar="sasa")
    probe_radius: float = Field(0.14, gt=0.0)  # nm (Shrake-Rupley)
    sphere_points: int = Field(960, gt=0)
    temperature: float = Field(TEMPERATURE_K, gt=0.0)  # K (κ and the entropy estimate)
    entropy: Literal["none", "interaction"] = "none"
    n_bootstrap: int = Field(1000, ge=0)
    uncertainty: Literal["iid", "block"] = "iid"  # iid replicas, or block (correlated frames)
    block_length: int = Field(0, ge=0)  # frames per bootstrap block; 0 = 5 g (auto)
    seed: int = 0
    engine: Literal["jax", "openmm"] = "jax"
    batch_size: int = Field(8, gt=0)  # frames per compiled JAX batch
    platform: str = "Reference"  # OpenMM engine platform
    trim_nm: float = Field(0.0, ge=0.0)  # keep residues within this of the partner; 0 = off

    @property
    def kappa(self) -> float:
        """Debye screening κ (nm⁻¹) at ``temperature``: :func:`rankbind.debye.debye_kappa`,
        OpenMM/Amber convention (incl. the 0.73 ion-exclusion factor), as preparation uses."""
        return debye_kappa(
            self.salt_concentration,
            self.temperature,
            convention="openmm-amber",
            solvent_dielectric=self.solvent_dielectric,
        )

    def as_dict(self) -> dict:
        out = self.model_dump()
        out["forcefield"] = list(self.forcefield) + [GB_MODELS[self.gb_model]]
        out["kappa_per_nm"] = self.kappa
        out["nonbonded_method"] = "NoCutoff (all pairs, non-periodic)"
        out["electrostatics"] = (
            f"Coulomb/eps_in and GB (1/eps_in - exp(-kappa f)/eps_out) with eps_in="
            f"{self.solute_dielectric}, eps_out={self.solvent_dielectric}"
        )
        out["setting"] = "single-trajectory MM/GBSA"
        out["interface_trim"] = (
            "none (whole complex)"
            if self.trim_nm == 0
            else f"residues with a heavy atom within {self.trim_nm} nm of the partner in any "
            "frame, parametrised alone (templates without external bonds; terms reaching "
            "deleted atoms absent: they cancel in single-trajectory dG); GB Born radii "
            "from kept atoms only"
        )
        if self.nonpolar == "sasa":
            out["sasa"] = (
                f"mdtraj.shrake_rupley, {self.sphere_points} points, probe "
                f"{self.probe_radius} nm, mdtraj element radii; gamma "
                f"{self.surface_tension} kcal/mol/A^2, no offset; OpenMM ACE term off"
            )
        return out


# --------------------------------------------------------------------------- MM/GBSA variants

# Named MM/GBSA variants: name -> GB model (GBn2: mbondi3 radii, igb=8; OBC2: mbondi2,
# igb=5), solute dielectric (a number, or "residue": by the mutated residue's type, ΔΔG
# only) and non-polar term (γ·SASA or none). rankbind.energies.variants computes them.
MMGBSA_VARIANTS: dict[str, dict] = {
    f"{gb.lower()}_e{e:g}{'' if np_ else '_nonp0'}": {
        "gb_model": gb,
        "eps_in": e,
        "nonpolar": "sasa" if np_ else "none",
    }
    for gb in ("GBn2", "OBC2")
    for e in (1.0, 2.0, 4.0)
    for np_ in (True, False)
} | {
    f"{gb.lower()}_eres": {"gb_model": gb, "eps_in": "residue", "nonpolar": "sasa"}
    for gb in ("GBn2", "OBC2")
}
FIXED_EPS_VARIANTS = tuple(n for n, v in MMGBSA_VARIANTS.items() if v["eps_in"] != "residue")

# The variant each task uses, FIXED BEFORE ANY FINAL EVALUATION from nested
# leave-one-complex-out cross-validation on the development sets (criterion: LOCO Pearson r
# of the linearly calibrated variant, chosen inside every training fold). Measured with
# PROPKA protonation + PDB2PQR flips, 1.0 nm interface trim, 50 restrained L-BFGS iterations,
# no salt (the calibrated protocol: the benchmark defaults below).
# ΔG: obc2_e1_nonp0 chosen in 24/24 folds of 24 DB5.5 affinities; its out-of-fold r 0.30
# [0.06, 0.57], LOCO RMSE 1.99 kcal/mol
# (gpu_bench/results/accuracy/affinity_relaxed_variants/SUMMARY.md).
AFFINITY_VARIANT = "obc2_e1_nonp0"
# ΔΔG: gbn2_e4_nonp0 chosen in 8/8 folds of 114 AB-Bind single alanines (8 complexes); its
# out-of-fold r 0.30 [0.12, 0.49], hot-spot ROC AUC 0.72
# (gpu_bench/results/accuracy/ddg_relaxed_variants/SUMMARY.md).
DDG_VARIANT = "gbn2_e4_nonp0"


def check_variant(variant: str, gb_models, salt_molar: float) -> None:
    """Raise ValueError unless ``variant`` is computable exactly from ε_in = 1 components of
    ``gb_models`` at ``salt_molar`` (ε_in ≠ 1 rescales exactly only without salt)."""
    spec = MMGBSA_VARIANTS[variant]
    if spec["gb_model"] not in gb_models:
        raise ValueError(
            f"variant {variant} needs {spec['gb_model']} components; this run stores "
            f"{', '.join(gb_models)} (add it with mmgbsa_extra_gb_models / --extra-gb)"
        )
    if salt_molar != 0 and spec["eps_in"] != 1.0:
        raise ValueError(
            f"variant {variant} (eps_in {spec['eps_in']}) is exact only without salt; "
            f"mmgbsa_salt_molar is {salt_molar} (use 0, or an eps_in 1 variant)"
        )


# --------------------------------------------------------------------------- docking


class DockingSettings(Settings):
    """Grid and scoring choices (recorded with every result). Lengths in Å."""

    spacing: float = Field(1.2, gt=0.0)
    n_rotations: int = Field(600, gt=0)
    rotation_seed: int = 0  # not 0: the rotation set is offset by this seed's random rotation
    core_radius: float = Field(1.4, gt=0.0)
    surface_radius: float = Field(3.4, gt=0.0)
    rho: float = -15.0
    elec_weight: float = 1.0
    restraint_cutoff: float = Field(6.0, gt=0.0)
    restraint_min_atoms: int = Field(10, ge=0)
    batch: int = Field(4, gt=0)
    cluster_rmsd: float = Field(6.0, gt=0.0)
    n_keep: int = Field(20, gt=0)
    grid_size: int | None = Field(None, gt=0)  # default: smallest FFT size without wrap-around
    # --- added with issue 16 (defaults keep the earlier shape + electrostatics protocol)
    rotation_spacing_deg: float | None = Field(None, gt=0.0)  # overrides n_rotations if set
    orientation_cone_deg: float | None = Field(None, gt=0.0)  # paratope faces epitope
    desolv_weight: float = 0.0
    desolv_cutoff: float = Field(6.0, gt=0.0)
    buried_area_per_pair: float = Field(1.0, ge=0.0)  # Å² per heavy-atom pair within cutoff
    pair_weight: float = 0.0
    pair_cutoff: float = Field(6.5, gt=0.0)
    pair_terms: int = Field(3, ge=0)
    restraint_mode: Literal["required", "favoured"] = "required"
    # score += weight x restraint atoms in contact (both modes). 2.88: fitted by
    # leave-one-case-out CV (model "legacy_restraint", all 22 epitope+paratope development
    # cases, 1.5 Å grid; fold weights 2.9 ± 0.3), which raised top-1 acceptable-or-better
    # from 3/22 to 10/22 and top-10 from 7/22 to 14/22; paratope-only mode: top-10 1/9 -> 0/9
    # (2 cases with any acceptable pose). gpu_bench/results/docking_scoring/cv.md
    restraint_weight: float = 2.88
    rescore_top: int = Field(0, ge=0)  # FFT poses rescored with PRODIGY-type contacts
    # "mmgbsa": clusters formed in FFT-score order, then the best mmgbsa_rescore_top cluster
    # representatives re-ranked by MM/GBSA (rankbind.modelling.docking_rescoring); measured
    # on the antibody benchmark's poses: top 1 10 -> 8 of 22 cases, so not the default
    # (gpu_bench/results/docking_mmgbsa_rescoring)
    rank_by: Literal["score", "prodigy", "consensus", "mmgbsa"] = "score"
    mmgbsa_rescore_top: int = Field(
        10,
        gt=0,
        description="rank_by='mmgbsa': cluster representatives (best first) rebuilt all-atom, "
        "relaxed and scored by MM/GBSA; the others follow in their earlier order",
    )
    mmgbsa_variant: Literal[FIXED_EPS_VARIANTS] = Field(
        AFFINITY_VARIANT,
        description="named MM/GBSA variant of the rescoring (rankbind.energies.variants); "
        "default: the one the affinity benchmark's nested leave-one-complex-out CV fixed for "
        "absolute dG (OBC2, eps_in 1, no non-polar term, no salt)",
    )
    mmgbsa_trim_nm: float = Field(
        1.0,
        ge=0.0,
        description="nm: residues with a heavy atom within this of the partner are kept "
        "(as in the benchmark calibration); 0 = whole complex",
    )
    mmgbsa_relax_iterations: int = Field(
        50,
        ge=0,
        description="L-BFGS iterations of the restrained relax (ComplexModel.relax, native "
        "OBC2) before scoring; 0 = score the rigid pose",
    )
    mmgbsa_relax_restraint_k: float = Field(
        1000.0, ge=0.0, description="kJ/mol/nm^2: harmonic heavy-atom restraint of the relax"
    )
    mmgbsa_platform: Annotated[Literal[PLATFORMS[1:]], BeforeValidator(_platform_name)] = Field(
        "CPU", description="OpenMM platform of the MM/GBSA scoring (the relax: CPU)"
    )


# --------------------------------------------------------------------------- umbrella


class UmbrellaSettings(Settings):
    """Umbrella windows along the RANKL-receptor centre-of-mass distance (make_plan).
    Units nm, ps, K, kJ/mol/nm², kJ/mol/rad²."""

    atom_set: Literal["heavy", "ca", "all"] = "heavy"
    pull_nm: float = Field(2.0, gt=0.0)
    spacing_nm: float = Field(0.1, gt=0.0)
    force_constant: float = Field(1000.0, gt=0.0)
    boresch_force_constant: float = Field(41.84, ge=0.0)
    rmsd_force_constant: float = Field(1000.0, ge=0.0)
    temperature_K: float = Field(TEMPERATURE_K, gt=0.0)
    timestep_ps: float = Field(0.002, gt=0.0, le=0.005)
    friction_per_ps: float = Field(1.0, gt=0.0)
    samples: int = Field(1000, gt=0)
    steps_per_sample: int = Field(500, gt=0)
    equilibration_steps: int = Field(25000, ge=0)
    minimisation_iterations: int = Field(200, ge=0)


class PMFSettings(Settings):
    """MBAR analysis of umbrella windows (analyse_windows). Units nm."""

    bin_width_nm: float = Field(0.05, gt=0.0)
    decorrelate: bool = True


# --------------------------------------------------------------------------- ensembles

ENSEMBLE_MODES = ("replicas", "md", "trajectory")


class EnsembleSettings(Settings):
    """Restrained OBC2 sampling for MM/GBSA ensembles (:mod:`rankbind.energies.ensembles`).
    Units: ps, K, 1/ps, kJ/mol/nm².

    ``replicas`` (CPU default): ``n_frames`` independent replicas, ``md_steps`` of Langevin
    dynamics each, then minimised; ``md``: one trajectory, ``equilibration_steps`` discarded,
    a frame every ``interval_steps``; ``trajectory``: frames read from a file."""

    mode: Literal[ENSEMBLE_MODES] = "replicas"
    n_frames: int = Field(4, ge=1)
    md_steps: int = Field(500, ge=0, description="replicas: steps before each minimisation")
    equilibration_steps: int = Field(1000, ge=0, description="md: steps discarded")
    interval_steps: int = Field(250, ge=1, description="md: steps between frames")
    timestep_ps: float = Field(0.002, gt=0.0, le=0.005, description="HBonds constraints")
    temperature_K: float = Field(TEMPERATURE_K, gt=0.0)
    friction_per_ps: float = Field(1.0, gt=0.0)
    restraint_k: float = Field(
        500.0, ge=0.0, description="kJ/mol/nm², heavy atoms to the prepared positions"
    )
    minimise_iterations: int = Field(100, ge=0, description="L-BFGS iterations (replicas)")
    forcefield: str = FORCEFIELDS["amber14"][0]
    seed: int = 0
    platform: str = "CPU"


# --------------------------------------------------------------------------- benchmarks

AFFINITY_ESTIMATORS = ("prodigy", "prodigy_prot", "mmgbsa")
DOCKING_MODES = ("unrestrained", "paratope", "epitope_paratope")


class _MMGBSABenchmark(Settings):
    """MM/GBSA choices shared by the affinity and ΔΔG benchmarks.

    Defaults: the protocol the named variants were calibrated with (the CV figures of
    AFFINITY_VARIANT and DDG_VARIANT were measured only with it): PROPKA protonation with
    PDB2PQR flips at pH 7, a 1.0 nm interface trim, 50 heavy-atom-restrained L-BFGS
    iterations in the trimmed GB System, no salt (κ = 0, where every ε_in derives exactly
    from ε_in = 1 components), OpenMM on its CPU platform (the same energies as the JAX
    engine, without a compilation per system). Every exact variant of the stored GB models
    is reported; ``variant`` only chooses the headline (it is no part of a case's result)."""

    mmgbsa_gb_model: Literal[tuple(GB_MODELS)] = GB_MODEL
    mmgbsa_salt_molar: float = Field(0.0, ge=0.0, le=5.0, description="mol/L (Debye κ)")
    mmgbsa_nonpolar: Literal["sasa", "ace", "none"] = "sasa"
    mmgbsa_engine: Literal["jax", "openmm"] = "openmm"
    mmgbsa_platform: str = Field("CPU", description="OpenMM platform (mmgbsa_engine openmm)")
    mmgbsa_trim_nm: float = Field(
        1.0, ge=0.0, description="interface trim (MMGBSASettings.trim_nm); 0 = whole complex"
    )
    mmgbsa_relax_iterations: int = Field(
        50, ge=0, description="restrained L-BFGS iterations in the (trimmed) System; 0 = off"
    )
    mmgbsa_relax_restraint_k: float = Field(
        1000.0, ge=0.0, description="kJ/mol/nm², heavy-atom restraint of the relax"
    )
    mmgbsa_extra_gb_models: tuple[Literal[tuple(GB_MODELS)], ...] = Field(
        (), description="further GB models whose eps_in = 1 components are stored (variants)"
    )
    protonation: Literal["template", "propka"] = Field(
        "propka", description="template (Modeller at pH) or propka (PROPKA + PDB2PQR flips)"
    )
    forcefield: Literal[tuple(FORCEFIELDS)] = "amber14"
    ph: float = Field(7.0, ge=0.0, le=14.0)

    @model_validator(mode="after")
    def _variant(self):
        check_variant(
            self.variant, (self.mmgbsa_gb_model, *self.mmgbsa_extra_gb_models),
            self.mmgbsa_salt_molar,
        )  # fmt: skip
        return self

    def case_dict(self) -> dict:
        """The settings a case's result depends on (stored in its file, its resume key):
        all but ``variant``, which only chooses the summary's headline."""
        return {k: v for k, v in self.as_dict().items() if k != "variant"}


class AffinitySettings(_MMGBSABenchmark):
    """What ``rankbind benchmark affinity`` runs (recorded with every result)."""

    estimators: tuple[Literal[AFFINITY_ESTIMATORS], ...] = AFFINITY_ESTIMATORS
    prodigy_command: str = Field("prodigy", description="prodigy-prot executable")
    mmgbsa_extra_gb_models: tuple[Literal[tuple(GB_MODELS)], ...] = Field(
        ("OBC2",), description="further GB models whose eps_in = 1 components are stored"
    )
    n_bootstrap: int = Field(2000, ge=0)
    seed: int = 0
    variant: Literal[FIXED_EPS_VARIANTS] = Field(
        AFFINITY_VARIANT,
        description="named MM/GBSA variant of the headline ΔG; default fixed by nested "
        "leave-one-complex-out CV (obc2_e1_nonp0 in 24/24 folds: "
        "gpu_bench/results/accuracy/affinity_relaxed_variants/SUMMARY.md)",
    )


class DDGSettings(_MMGBSABenchmark):
    """What ``rankbind benchmark ddg`` runs (recorded with every result)."""

    alanine_only: bool = True
    singles_only: bool = False
    include_homology_models: bool = Field(True, description="AB-Bind's HM_ files")
    hotspot_kcal_per_mol: float = Field(1.0, ge=0.0)
    mutant_start: Literal["prepared", "relaxed_wild_type"] = Field(
        "prepared",
        description="structure a mutant is built from: 'prepared' (the unrelaxed wild type, "
        "so wild type and mutant each get the same mmgbsa_relax_iterations from the same "
        "start) or 'relaxed_wild_type' (the relaxed wild type: the mutant is relaxed twice "
        "as long, a bias towards the mutant; how the runs before 2026-11-30 were made)",
    )
    n_bootstrap: int = Field(2000, ge=0)
    seed: int = 0
    variant: Literal[tuple(MMGBSA_VARIANTS)] = Field(
        DDG_VARIANT,
        description="named MM/GBSA variant of the headline ΔΔG; default fixed by nested "
        "leave-one-complex-out CV (gbn2_e4_nonp0 in 8/8 folds: "
        "gpu_bench/results/accuracy/ddg_relaxed_variants/SUMMARY.md)",
    )

    def affinity_settings(self) -> AffinitySettings:
        """The MM/GBSA part as affinity settings (the shared preparation and scoring)."""
        shared = set(_MMGBSABenchmark.model_fields) | {"seed"}
        return AffinitySettings(
            estimators=("mmgbsa",),
            **{k: getattr(self, k) for k in shared},
            variant=f"{self.mmgbsa_gb_model.lower()}_e1",  # unused here (no summary)
        )

    def case_dict(self) -> dict:
        """The settings one mutation's result depends on (stored in its file, its resume
        key): not the fields that only select which mutations run (``alanine_only``,
        ``singles_only``, ``include_homology_models``) or shape the summary
        (``hotspot_kcal_per_mol``, ``variant``), so a wider selection reuses finished
        mutations."""
        skip = ("alanine_only", "singles_only", "include_homology_models",
                "hotspot_kcal_per_mol", "variant")  # fmt: skip
        return {k: v for k, v in super().case_dict().items() if k not in skip}


class DockingBenchmarkSettings(Settings):
    """What ``rankbind benchmark docking`` runs (recorded with every result). Lengths in Å."""

    modes: tuple[Literal[DOCKING_MODES], ...] = DOCKING_MODES
    unbound: bool = Field(True, description="dock the unbound structures where the case has them")
    spacing: float = Field(1.2, gt=0.0)
    n_rotations: int = Field(600, gt=0)
    n_keep: int = Field(10, gt=0)
    cluster_rmsd: float = Field(6.0, gt=0.0)
    restraint_cutoff: float = Field(6.0, gt=0.0)
    restraint_min_atoms: int = Field(10, ge=0)
    epitope_cutoff: float = Field(5.0, gt=0.0)
    batch: int = Field(8, gt=0)
    seed: int = 0
    tops: tuple[int, ...] = (1, 5, 10)
    positive_control: bool = Field(
        False, description="add the rotation undoing the random start (a check)"
    )
    extra: dict = Field(default_factory=dict, description="further DockingSettings fields")

    @model_validator(mode="after")
    def _extra(self):
        self.docking_settings()  # an unknown key or a bad value in ``extra`` fails now
        return self

    def docking_settings(self) -> DockingSettings:
        return DockingSettings(
            spacing=self.spacing,
            n_rotations=self.n_rotations,
            rotation_seed=self.seed,
            restraint_cutoff=self.restraint_cutoff,
            restraint_min_atoms=self.restraint_min_atoms,
            batch=self.batch,
            cluster_rmsd=self.cluster_rmsd,
            n_keep=self.n_keep,
            **self.extra,
        )

    def as_dict(self) -> dict:
        return self.model_dump() | {
            "docking_settings": self.docking_settings().model_dump(mode="json")
        }

    def case_dict(self) -> dict:
        """The settings a single case's result depends on (its resume key): not the mode
        list, so modes can run as separate processes into one directory, and not ``extra``,
        which is part of ``docking_settings`` (so an ``extra`` entry at its default is no
        change)."""
        skip = ("modes", "tops", "extra")
        return {k: v for k, v in self.as_dict().items() if k not in skip}
