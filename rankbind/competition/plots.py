"""Plots of competitive-binding results (matplotlib Agg; PNGs written atomically)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rankbind.fileio import atomic_open  # noqa: E402


def _save(fig, path: str | os.PathLike) -> None:
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)


def plot_occupancy_curves(
    path: str | os.PathLike,
    doses_molar: np.ndarray,
    curves: dict[str, np.ndarray],
    xlabel: str,
    ylabel: str = "fraction",
    title: str = "",
    ic50s: dict[str, float | None] | None = None,
) -> None:
    """Lines ``curves[label]`` (N,) against ``doses_molar`` (N,) on a log axis; optional
    IC50 markers (M)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    doses = np.asarray(doses_molar, dtype=float)
    positive = doses > 0
    for label, values in curves.items():
        line = ax.plot(doses[positive], np.asarray(values)[positive], label=label)[0]
        x = (ic50s or {}).get(label)
        if x:
            ax.axvline(x, color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def plot_surface(
    path: str | os.PathLike,
    x_molar: np.ndarray,
    y_molar: np.ndarray,
    values: np.ndarray,
    xlabel: str,
    ylabel: str,
    label: str,
    title: str = "",
) -> None:
    """Dose-response surface ``values`` of shape (len(x), len(y)) on log-log axes."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    x, y = np.asarray(x_molar, dtype=float), np.asarray(y_molar, dtype=float)
    mesh = ax.pcolormesh(x, y, np.asarray(values).T, shading="nearest", vmin=0, vmax=1)
    levels = [0.1, 0.25, 0.5, 0.75, 0.9]
    contours = ax.contour(x, y, np.asarray(values).T, levels=levels, colors="w", linewidths=0.7)
    ax.clabel(contours, fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.colorbar(mesh, ax=ax, label=label)
    fig.tight_layout()
    _save(fig, path)
