"""Report figures, each a function from arrays to a PNG file (written atomically)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.integrate import cumulative_trapezoid  # noqa: E402

from petsim.core.atomic import atomic_path  # noqa: E402


def save_figure(fig, path, dpi: int = 110, tight: bool = True) -> Path:
    """Write ``fig`` as a PNG atomically (world-readable, nothing half-written) and close it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight" if tight else None, format="png")
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
    return save_figure(fig, path)


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
    return save_figure(fig, path)


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
    return save_figure(fig, path)


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
    return save_figure(fig, path)


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
    return save_figure(fig, path)


def plot_delta_bp(path, regions, models, true_percent: dict, estimated_percent: dict, attainable_percent: dict | None = None,
                  title: str = "ΔBP_ND: true, estimated and attainable", intervals: dict | None = None) -> Path:
    """True against estimated %ΔBP_ND per released region (rows) and model (colours).

    ``true_percent`` maps a region to its true %ΔBP_ND; ``estimated_percent`` and ``attainable_percent``
    map ``(region, model)`` to the estimate on the reconstructed TACs and on the noise-free TACs (the
    value the model can attain); a missing or None value is left out. ``intervals`` maps
    ``(region, model)`` to the estimate's (low, high) interval, drawn as a bar. The shaded band on
    each row is where an estimate has the sign and at least half the size of the true change.

    Examples
    --------
    >>> plot_delta_bp("dbp.png", ["amygdala_l"], ["mrtm2"], {"amygdala_l": -10.0},
    ...               {("amygdala_l", "mrtm2"): -8.1}, {("amygdala_l", "mrtm2"): -7.2})  # doctest: +SKIP
    """
    attainable_percent, intervals = attainable_percent or {}, intervals or {}
    regions, models = list(regions), list(models)
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.75 * max(len(regions), 1)))
    step = 0.6 / max(len(models), 1)
    values = [0.0]
    for i, region in enumerate(regions):
        t = true_percent.get(region)
        if t is not None and np.isfinite(t) and t != 0:
            lo, hi = sorted((0.5 * t, 100.0 * t))  # clipped by the axis limits
            ax.fill_between([lo, hi], i - 0.4, i + 0.4, color="0.92", lw=0,
                            label="sign right, ≥ half the size" if i == 0 else None)
            ax.plot([t, t], [i - 0.4, i + 0.4], "k-", lw=2.5, label="true" if i == 0 else None)
            values.append(t)
        for j, model in enumerate(models):
            y = i - 0.3 + step * (j + 0.5)
            colour = f"C{j % 10}"
            e, a = estimated_percent.get((region, model)), attainable_percent.get((region, model))
            if a is not None and np.isfinite(a):
                ax.plot(a, y, "o", mfc="none", mec=colour, ms=8, mew=1.5,
                        label=f"{model}, noise-free TACs (attainable)" if i == 0 else None)
                values.append(a)
            if e is not None and np.isfinite(e):
                ax.plot(e, y, "o", color=colour, ms=7, label=f"{model}, estimate" if i == 0 else None)
                values.append(e)
                lo, hi = intervals.get((region, model)) or (None, None)
                if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
                    ax.plot([lo, hi], [y, y], "-", color=colour, lw=1.5)
                    values += [lo, hi]
    ax.axvline(0.0, color="0.5", lw=1)
    span = max(abs(min(values)), abs(max(values)), 1.0)
    ax.set_xlim(min(1.15 * min(values), -0.1 * span), max(1.15 * max(values), 0.1 * span))
    ax.set_yticks(range(len(regions)), regions)
    ax.set_ylim(len(regions) - 0.5, -0.5)
    ax.set(xlabel="ΔBP_ND (% of baseline)", title=title)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save_figure(fig, path)


def plot_input_function(path, time_min, plasma_bq_ml, whole_blood_bq_ml=None, parent_fraction=None,
                        title: str = "arterial input function") -> Path:
    """Plasma (total and parent) and whole-blood activity against time, and the parent fraction.

    Activities in Bq/mL (decay-corrected), drawn in kBq/mL; the parent plasma curve is the total plasma
    activity times ``parent_fraction`` (left out when that is None).
    """
    t = np.asarray(time_min, float)
    plasma = np.asarray(plasma_bq_ml, float)
    with_fraction = parent_fraction is not None
    fig, axes = plt.subplots(1, 2 if with_fraction else 1, figsize=(11 if with_fraction else 7, 4.5), squeeze=False)
    ax = axes[0, 0]
    ax.plot(t, plasma / 1e3, "o-", ms=3, color="C0", label="plasma, total")
    if with_fraction:
        ax.plot(t, plasma * np.asarray(parent_fraction, float) / 1e3, "o-", ms=3, color="C3",
                label="plasma, parent (input of the models)")
    if whole_blood_bq_ml is not None:
        ax.plot(t, np.asarray(whole_blood_bq_ml, float) / 1e3, "s--", ms=3, color="C2", label="whole blood")
    ax.set(xlabel="time after injection (min)", ylabel="activity (kBq/mL, decay-corrected)", title=title)
    ax.legend(fontsize=8)
    if with_fraction:
        ax = axes[0, 1]
        ax.plot(t, np.asarray(parent_fraction, float), "o-", ms=3, color="C3")
        ax.set(xlabel="time after injection (min)", ylabel="parent fraction of plasma activity", ylim=(0, 1.05),
               title="metabolism")
    return save_figure(fig, path)


def plot_count_rates(path, frame_start_min, frame_duration_min, counts: dict, fractions: dict | None = None,
                     title: str = "count rates per frame") -> Path:
    """Recorded count rates (counts over the frame duration, in kcps) per frame, and fractions.

    ``counts`` maps a name (trues, scatter, randoms, prompts, NEC, ...) to counts per frame; each is drawn
    as a level over its frame. ``fractions`` maps a name (random, scatter, dead-time fraction) to values
    between 0 and 1, drawn on a second panel.
    """
    start = np.asarray(frame_start_min, float)
    dur = np.asarray(frame_duration_min, float)
    mid = start + 0.5 * dur
    fig, axes = plt.subplots(1, 2 if fractions else 1, figsize=(11 if fractions else 7, 4.5), squeeze=False)
    ax = axes[0, 0]
    contiguous = bool(np.allclose(start[1:], (start + dur)[:-1]))
    for i, (name, c) in enumerate(counts.items()):
        rate = np.asarray(c, float) / (60.0 * dur) / 1e3
        colour = f"C{i % 10}"
        if contiguous:  # a level over each frame, joined at the frame boundaries
            ax.stairs(rate, np.concatenate([start, [start[-1] + dur[-1]]]), color=colour, lw=1.5, label=name,
                      baseline=None)
        else:
            ax.hlines(rate, start, start + dur, color=colour, lw=1.5, label=name)
    ax.set(xlabel="time after injection (min)", ylabel="recorded rate (kcps)", title=title, ylim=(0, None))
    ax.legend(fontsize=8)
    if fractions:
        ax = axes[0, 1]
        for i, (name, f) in enumerate(fractions.items()):
            ax.plot(mid, 100.0 * np.asarray(f, float), "o-", ms=3, color=f"C{(i + len(counts)) % 10}", label=name)
        ax.set(xlabel="time after injection (min)", ylabel="%", title="fractions per frame", ylim=(0, None))
        ax.legend(fontsize=8)
    return save_figure(fig, path)
