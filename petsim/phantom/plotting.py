"""Three orthogonal slices of a phantom with coloured, named labels (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_orthogonal(phantom, path, centre_region: str = "amygdala_l", dpi: int = 120) -> Path:
    """Save sagittal, coronal and axial slices through the centroid of ``centre_region``.

    Labels are drawn in distinct colours; each region visible in a slice is named
    at its in-slice centroid. Returns the path of the PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from scipy import ndimage

    from petsim.core.atomic import atomic_path

    grid = phantom.grid
    centre = phantom.centroid_mm(centre_region)
    idx = [int(np.clip(np.rint((c - o) / d), 0, n - 1)) for c, o, d, n in zip(centre, grid.origin_mm, grid.voxel_size_mm, grid.shape)]
    ids = np.array([0] + [r.id for r in phantom.regions])
    index_of = np.zeros(ids.max() + 1, dtype=np.int32)
    index_of[ids] = np.arange(ids.size)
    index = index_of[phantom.labels]
    palette = np.vstack([plt.get_cmap(c)(np.arange(20)) for c in ("tab20", "tab20b", "tab20c")])
    colours = np.vstack([[0, 0, 0, 1], palette[np.arange(len(phantom.regions)) % len(palette)]])
    cmap = ListedColormap(colours)
    names = ("air",) + phantom.region_names
    views = [("sagittal", 0, (1, 2), ("y (mm)", "z (mm)")), ("coronal", 1, (0, 2), ("x (mm)", "z (mm)")),
             ("axial", 2, (0, 1), ("x (mm)", "y (mm)"))]
    fig, axes = plt.subplots(1, 3, figsize=(18, 6.5))
    for ax, (title, axis, (a, b), (la, lb)) in zip(axes, views):
        sl = np.take(index, idx[axis], axis=axis)
        ea, eb = grid.axis_mm(a), grid.axis_mm(b)
        extent = (ea[0] - grid.voxel_size_mm[a] / 2, ea[-1] + grid.voxel_size_mm[a] / 2,
                  eb[0] - grid.voxel_size_mm[b] / 2, eb[-1] + grid.voxel_size_mm[b] / 2)
        ax.imshow(sl.T, origin="lower", cmap=cmap, vmin=0, vmax=len(names) - 1, extent=extent, interpolation="nearest")
        for k in np.unique(sl):
            if k == 0:
                continue
            mask = sl == k
            if mask.sum() < 3:
                continue
            # name the region at its most interior pixel (rings such as the skull have no inside centroid)
            depth = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
            ii, jj = np.unravel_index(np.argmax(depth), mask.shape)
            ax.text(ea[ii], eb[jj], names[k], fontsize=6, ha="center", va="center",
                    color="black", bbox=dict(boxstyle="round,pad=0.1", fc="white", alpha=0.6, lw=0))
        ax.set_title(f"{title} slice at {'xyz'[axis]} = {grid.axis_mm(axis)[idx[axis]]:.1f} mm")
        ax.set_xlabel(la)
        ax.set_ylabel(lb)
    fig.suptitle(f"{phantom.name}: slices through {centre_region}")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return path
