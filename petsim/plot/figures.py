"""Report figures, each a function from arrays to a PNG file (written atomically)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.integrate import cumulative_trapezoid  # noqa: E402

from petsim.core.atomic import atomic_path  # noqa: E402


def _save(fig, path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def plot_sinogram(path, sinogram: np.ndarray, title: str = "sinogram") -> Path:
    """One sinogram plane (views x radial bins) and the axial-by-radial view at view 0."""
    sino = np.asarray(sinogram)
    mid = sino.shape[0] // 2
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].imshow(sino[mid], aspect="auto", cmap="gray_r")
    axes[0].set(title=f"{title}: plane {mid}", xlabel="radial bin", ylabel="view")
    axes[1].imshow(sino[:, 0, :], aspect="auto", cmap="gray_r")
    axes[1].set(title=f"{title}: view 0", xlabel="radial bin", ylabel="sinogram (segment, axial)")
    return _save(fig, path)


def _slices(vol, centre):
    i, j, k = centre
    return vol[:, :, k].T, vol[:, j, :].T, vol[i, :, :].T


def plot_recon_vs_truth(path, truth: np.ndarray, recon: np.ndarray, centre=None, title: str = "", units: str = "Bq/mL",
                        voxel_size_mm=(1.0, 1.0, 1.0), row_labels=("truth", "reconstruction")) -> Path:
    """Transverse, coronal and sagittal slices of the truth (top) and the reconstruction (bottom), drawn to scale."""
    truth, recon = np.asarray(truth), np.asarray(recon)
    if centre is None:
        centre = tuple(s // 2 for s in truth.shape)
    dx, dy, dz = voxel_size_mm
    nx, ny, nz = truth.shape
    extents = ((0, nx * dx, 0, ny * dy), (0, nx * dx, 0, nz * dz), (0, ny * dy, 0, nz * dz))
    vmax = float(np.percentile(truth, 99.9)) * 1.2 or 1.0
    fig, axes = plt.subplots(2, 3, figsize=(11, 7))
    names = ("transverse", "coronal", "sagittal")
    for row, (vol, label) in enumerate(zip((truth, recon), row_labels)):
        for col, sl in enumerate(_slices(vol, centre)):
            im = axes[row, col].imshow(sl, origin="lower", cmap="inferno", vmin=0, vmax=vmax, extent=extents[col])
            axes[row, col].set_title(f"{label}: {names[col]}")
            axes[row, col].axis("off")
    fig.colorbar(im, ax=axes, shrink=0.6, label=units)
    fig.suptitle(title)
    return _save(fig, path)


def plot_tacs(path, mid_min, tacs: dict, fits: dict | None = None, title: str = "time-activity curves") -> Path:
    """Regional TACs (markers) and model fits (lines), decay-corrected Bq/mL against minutes."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, (name, values) in enumerate(tacs.items()):
        colour = f"C{i % 10}"
        ax.plot(mid_min, values, "o", ms=3, color=colour, label=name)
        if fits and name in fits and fits[name] is not None:
            ax.plot(mid_min, fits[name], "-", color=colour, lw=1)
    ax.set(xlabel="time after injection (min)", ylabel="activity (Bq/mL, decay-corrected)", title=title)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def plot_logan(path, frame_start_min, frame_end_min, tacs: dict, ref: np.ndarray, t_star_min: float, title: str = "Logan reference plot") -> Path:
    """Logan reference plot: int(C_T)/C_T against int(C_R)/C_T; the slope after t* is the DVR = BP_ND + 1."""
    start, end = np.asarray(frame_start_min, float), np.asarray(frame_end_min, float)
    mid = 0.5 * (start + end)
    t = np.concatenate([[0.0], mid])
    int_ref = cumulative_trapezoid(np.concatenate([[0.0], ref]), t)
    late = mid >= t_star_min
    fig, ax = plt.subplots(figsize=(7, 5))
    for i, (name, ct) in enumerate(tacs.items()):
        ct = np.asarray(ct, float)
        ok = ct > 0
        int_ct = cumulative_trapezoid(np.concatenate([[0.0], ct]), t)
        x, y = int_ref[ok] / ct[ok], int_ct[ok] / ct[ok]
        colour = f"C{i % 10}"
        ax.plot(x, y, "o", ms=3, color=colour, label=name)
        sel = late[ok]
        if sel.sum() >= 2:
            slope, icpt = np.polyfit(x[sel], y[sel], 1)
            ax.plot(x[sel], slope * x[sel] + icpt, "-", color=colour, lw=1)
    ax.set(xlabel="∫C_R / C_T (min)", ylabel="∫C_T / C_T (min)", title=f"{title} (t* = {t_star_min:g} min)")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def plot_bp_scatter(path, true_bp, est_bp, labels, title: str = "estimated against true BP_ND") -> Path:
    """Estimated against true BP_ND (one marker per region and model) with the identity line."""
    true_bp, est_bp = np.asarray(true_bp, float), np.asarray(est_bp, float)
    fig, ax = plt.subplots(figsize=(6, 6))
    groups = {}
    for t, e, lab in zip(true_bp, est_bp, labels):
        groups.setdefault(lab, []).append((t, e))
    for i, (lab, pts) in enumerate(groups.items()):
        pts = np.array(pts)
        ax.plot(pts[:, 0], pts[:, 1], "o", color=f"C{i % 10}", label=lab)
    finite = np.isfinite(est_bp)
    hi = max(float(np.nanmax(true_bp)) if true_bp.size else 1.0, float(np.max(est_bp[finite])) if finite.any() else 1.0) * 1.1
    ax.plot([0, hi], [0, hi], "k--", lw=1, label="identity")
    ax.set(xlim=(0, hi), ylim=(0, hi), xlabel="true BP_ND", ylabel="estimated BP_ND", title=title)
    ax.legend(fontsize=8)
    return _save(fig, path)
