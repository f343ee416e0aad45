"""Separation PMF and standard binding free energy from umbrella sampling (geometric route).

Coordinates: ``r`` is the distance between the centre of mass of the receptor (group B1) and
of the RANKL trimer (group A1), in nm. Optional Boresch-style restraints (Boresch et al.,
J. Phys. Chem. B 107, 9535 (2003)) are harmonic in five angles built on three reference groups
per side, A1-A3 on RANKL and B1-B3 on the receptor:

- polar angles of the separation vector in the RANKL frame: thetaA = angle(A2, A1, B1),
  phiA = dihedral(A3, A2, A1, B1);
- receptor orientation: thetaB = angle(A1, B1, B2), phiB = dihedral(A2, A1, B1, B2),
  phiC = dihedral(A1, B1, B2, B3);

and an optional RMSD restraint holds the conformation. Restraints that are on, are on in every
umbrella window; only the separation bias differs between windows.

Standard binding free energy by the geometric route's thermodynamic cycle (Woo & Roux,
PNAS 102, 6825 (2005); Gumbart, Roux & Chipot, J. Chem. Theory Comput. 9, 794 (2013); the route
BFEE automates). Every ``dG_*`` below is the free energy of *switching a restraint on* (>= 0);
all are in kT:

    dG° = -ln( K_r / V° ) + dG_bulk_orientation + dG_bulk_conformation - dG_site

    K_r = Omega_A * P(r < r_site) * [(r_hi³ - r_lo³) / 3] / P(r_lo <= r < r_hi)    (nm³)

- ``P(.)`` are populations of the separation in the ensemble without the umbrella bias but
  with the other restraints on, from MBAR over all windows; [r_lo, r_hi) is a bulk shell
  where the PMF is flat (no receptor-ligand interaction; this is assumed, check the PMF).
  K_r is ∫_site d³r exp(-β[W(r) - W_bulk]) of the restrained receptor, i.e. with no angular
  restraint the familiar 4π ∫_site r² exp(-β[w(r) - w_bulk]) dr.
- ``Omega_A = ∫ sin(thetaA) exp(-β u(thetaA)) dthetaA ∫ exp(-β u(phiA)) dphiA`` (quadrature;
  4π when the polar restraints are off). This is Woo & Roux's S*/r*².
- ``V°`` = 1661 Å³ = 1.66054 nm³ (1 M standard state).
- ``dG_bulk_orientation = -ln[ ∫ sin(thetaB) e^{-βu} dthetaB ∫ e^{-βu} dphiB ∫ e^{-βu} dphiC
  / 8π² ]`` (quadrature, exact for a receptor that rotates freely in bulk; 0 when off).
- ``dG_bulk_conformation``: RMSD restraint switched on in the unbound receptor and ligand;
  must be *supplied* (separate simulation), exactly 0 when the RMSD restraint is off.
- ``dG_site``: all restraints that were on (angles and RMSD), switched on in the bound complex;
  must be *supplied* (separate simulation), exactly 0 when no restraint besides the
  separation umbrella is on.

Nothing is assumed zero silently: a restraint that was on without its supplied terms raises.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from rankbind.errors import RankbindError
from rankbind.freeenergy.mbar import MBAR

BOLTZMANN_KJ_PER_MOL_K = 0.0083144626181532
KJ_PER_KCAL = 4.184
STANDARD_VOLUME_NM3 = 1.0 / (6.02214076e23 * 1.0e-24)  # 1 mol/L -> 1.66054 nm^3 per molecule

POLAR = ("thetaA", "phiA")
ORIENTATION = ("thetaB", "phiB", "phiC")
ANGLES = ("thetaA", "thetaB")


class PMFError(RankbindError):
    """PMF or binding free energy inputs are inconsistent (bins, bulk shell, restraint terms)."""


def kT_kJ(temperature_K: float) -> float:
    """kT in kJ/mol."""
    return BOLTZMANN_KJ_PER_MOL_K * temperature_K


@dataclass(frozen=True)
class Term:
    """One contribution to dG° in kT; ``source`` says how it was obtained."""

    value_kT: float
    error_kT: float
    source: str


@dataclass
class BindingFreeEnergy:
    """Standard binding free energy (1 M) with its terms (kT) at ``temperature_K``."""

    dG_kT: float
    error_kT: float
    temperature_K: float
    terms: dict[str, Term] = field(default_factory=dict)
    site_max_nm: float = 0.0
    bulk_shell_nm: tuple[float, float] = (0.0, 0.0)

    @property
    def dG_kJ_per_mol(self) -> tuple[float, float]:
        kt = kT_kJ(self.temperature_K)
        return self.dG_kT * kt, self.error_kT * kt

    @property
    def dG_kcal_per_mol(self) -> tuple[float, float]:
        kj, err = self.dG_kJ_per_mol
        return kj / KJ_PER_KCAL, err / KJ_PER_KCAL

    def to_dict(self) -> dict:
        out = asdict(self)
        out["dG_kJ_per_mol"], out["error_kJ_per_mol"] = self.dG_kJ_per_mol
        out["dG_kcal_per_mol"], out["error_kcal_per_mol"] = self.dG_kcal_per_mol
        out["standard_volume_nm3"] = STANDARD_VOLUME_NM3
        return out


def _bins(r_n: np.ndarray, edges: np.ndarray) -> list[np.ndarray]:
    return [(r_n >= lo) & (r_n < hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def separation_pmf(
    mbar: MBAR, u_n, r_n, edges_nm, reference_bin: int = -1
) -> dict[str, np.ndarray]:
    """Radial PMF w(r) (Jacobian removed) in kT relative to ``reference_bin``.

    mbar: MBAR over the umbrella windows; u_n (N,): reduced potential of every sample in the
    unbiased state (umbrella off, other restraints on; 0 when u_kn holds only bias energies);
    r_n (N,): separation in nm; edges_nm (B + 1,): bin edges.
    w_b = -ln[ P_b / ((r_hi³ - r_lo³) / 3) ], so that exp(-w) is the density per volume.
    Returns centres_nm (B,), pmf_kT (B,), error_kT (B,) relative to the reference bin, and
    counts (B,) samples per bin. Empty bins raise PMFError."""
    edges = np.asarray(edges_nm, dtype=float)
    r_n = np.asarray(r_n, dtype=float)
    masks = _bins(r_n, edges)
    counts = np.array([m.sum() for m in masks])
    if np.any(counts == 0):
        empty = [f"[{edges[i]:.3f}, {edges[i + 1]:.3f})" for i in np.flatnonzero(counts == 0)]
        raise PMFError(f"PMF bins with no samples (nm): {', '.join(empty)}")
    reg = mbar.compute_region_free_energies(u_n, np.array(masks))
    shell = (edges[1:] ** 3 - edges[:-1] ** 3) / 3.0
    w = reg["f"] + np.log(shell)
    ref = np.arange(w.size)[reference_bin]
    t = reg["theta"]
    var = np.diag(t) + t[ref, ref] - 2.0 * t[:, ref]
    return {
        "centres_nm": 0.5 * (edges[1:] + edges[:-1]),
        "pmf_kT": w - w[ref],
        "error_kT": np.sqrt(np.clip(var, 0.0, None)),
        "counts": counts,
    }


def _harmonic(x: np.ndarray, x0: float, k_kT: float, periodic: bool) -> np.ndarray:
    d = x - x0
    if periodic:
        d = np.arctan2(np.sin(d), np.cos(d))
    return 0.5 * k_kT * d**2


def _angle_integral(name: str, restraint: tuple[float, float] | None, kT: float) -> float:
    """∫ [sin x] exp(-u(x)/kT) dx over the angle's range (sin for the bend angles)."""
    if restraint is None:
        return 2.0 if name in ANGLES else 2.0 * np.pi
    if name in ANGLES:
        x = np.linspace(0.0, np.pi, 40001)
        weight = np.sin(x)
    else:
        x = np.linspace(-np.pi, np.pi, 40001)
        weight = np.ones_like(x)
    x0, k = restraint
    return float(np.trapezoid(weight * np.exp(-_harmonic(x, x0, k / kT, name not in ANGLES)), x))


def binding_free_energy(
    mbar: MBAR,
    u_n,
    r_n,
    *,
    site_max_nm: float,
    bulk_shell_nm: tuple[float, float],
    temperature_K: float,
    angle_restraints: dict[str, tuple[float, float]] | None = None,
    rmsd_restraint: bool = False,
    site_release: tuple[float, float] | None = None,
    bulk_conformation: tuple[float, float] | None = None,
) -> BindingFreeEnergy:
    """Standard (1 M) binding free energy by the formula in the module docstring.

    mbar, u_n, r_n: as :func:`separation_pmf`. site_max_nm: bound site is r < site_max_nm.
    bulk_shell_nm: (r_lo, r_hi) of a shell in the PMF plateau.
    angle_restraints: Boresch angles that were on, name -> (reference rad, k kJ/mol/rad²),
    names in thetaA, phiA, thetaB, phiB, phiC.
    site_release: (dG, error) in kJ/mol for switching on, in the bound complex, every restraint
    that was on (required if any was). bulk_conformation: (dG, error) kJ/mol for switching the
    RMSD restraint on in the unbound molecules (required iff ``rmsd_restraint``)."""
    angle_restraints = dict(angle_restraints or {})
    unknown = set(angle_restraints) - set(POLAR + ORIENTATION)
    if unknown:
        raise PMFError(f"unknown angle restraint(s) {sorted(unknown)}; use {POLAR + ORIENTATION}")
    r_lo, r_hi = map(float, bulk_shell_nm)
    if not (0.0 < site_max_nm <= r_lo < r_hi):
        raise PMFError(
            f"need 0 < site_max_nm ({site_max_nm}) <= bulk shell start ({r_lo}) < end ({r_hi})"
        )
    r_n = np.asarray(r_n, dtype=float)
    if r_n.max() < r_hi:
        raise PMFError(f"bulk shell ends at {r_hi} nm but the largest sampled r is {r_n.max():.3f}")
    kT = kT_kJ(temperature_K)
    restrained = bool(angle_restraints) or rmsd_restraint
    if restrained and site_release is None:
        raise PMFError(
            "restraints besides the separation were on ("
            + ", ".join(sorted(angle_restraints) + (["rmsd"] if rmsd_restraint else []))
            + "): site_release (their switching-on free energy in the complex) is required"
        )
    if rmsd_restraint != (bulk_conformation is not None):
        raise PMFError("bulk_conformation must be given exactly when the RMSD restraint was on")

    site_mask, bulk_mask = r_n < site_max_nm, (r_n >= r_lo) & (r_n < r_hi)
    for label, mask in (("bound site", site_mask), ("bulk shell", bulk_mask)):
        if not mask.any():
            raise PMFError(
                f"no samples in the {label} (site r < {site_max_nm} nm, bulk shell "
                f"[{r_lo}, {r_hi}) nm; sampled r {r_n.min():.3f}-{r_n.max():.3f} nm)"
            )
    reg = mbar.compute_region_free_energies(u_n, np.array([site_mask, bulk_mask]))
    f_site, f_bulk = reg["f"]
    t = reg["theta"]
    sep_err = float(np.sqrt(max(t[0, 0] + t[1, 1] - 2 * t[0, 1], 0.0)))
    omega_a = np.prod([_angle_integral(n, angle_restraints.get(n), kT) for n in POLAR])
    ln_k = -f_site + f_bulk + np.log((r_hi**3 - r_lo**3) / 3.0) + np.log(omega_a)
    terms = {
        "separation": Term(
            float(-(ln_k - np.log(STANDARD_VOLUME_NM3))), sep_err, "MBAR over umbrella windows"
        )
    }
    orient = [n for n in ORIENTATION if n in angle_restraints]
    bulk_o = -np.log(
        np.prod([_angle_integral(n, angle_restraints.get(n), kT) for n in ORIENTATION])
        / (8 * np.pi**2)
    )
    terms["bulk_orientation"] = Term(
        float(bulk_o), 0.0, "quadrature" if orient else "zero: orientation restraints off"
    )
    if bulk_conformation is not None:
        terms["bulk_conformation"] = Term(
            bulk_conformation[0] / kT, bulk_conformation[1] / kT, "supplied"
        )
    else:
        terms["bulk_conformation"] = Term(0.0, 0.0, "zero: RMSD restraint off")
    if site_release is not None:
        terms["site_restraints"] = Term(-site_release[0] / kT, site_release[1] / kT, "supplied")
    else:
        terms["site_restraints"] = Term(0.0, 0.0, "zero: no restraint besides the separation")
    total = sum(term.value_kT for term in terms.values())
    error = float(np.sqrt(sum(term.error_kT**2 for term in terms.values())))
    return BindingFreeEnergy(
        float(total), error, float(temperature_K), terms, float(site_max_nm), (r_lo, r_hi)
    )
