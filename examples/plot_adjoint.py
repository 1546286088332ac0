"""The adjoint: forward projection, back projection and the sensitivity image.

The projector is a linear map ``A`` from images to sinograms, ``(A x)_i =
sum_j a_ij x_j``, with ``a_ij`` the length of LOR ``i`` in pixel ``j``. Its
adjoint (transpose) ``A^T`` is the back projection: it smears every sinogram value
back along its LOR, ``(A^T y)_j = sum_i a_ij y_i``. They are a matched pair when
the identity

    <A x, y> = <x, A^T y>

holds for every image ``x`` and sinogram ``y``; MLEM and OSEM need it (the
update ``x <- x / (A^T 1) * A^T (y / A x)`` only climbs the likelihood with the
true transpose). The example checks it on random ``x`` and ``y`` for petsim's
Joseph projector (one 2D plane of the HR+) and prints the relative difference,
which is at the level of float32 rounding (or below).

The figure shows what back projection does: one sinogram bin goes back as a
line (its LOR); one view of a disk phantom's sinogram goes back as a band
smeared along that direction; all views back projected without a ramp filter
give a blurred image (the ``1/r`` blur that FBP's ramp filter undoes); and the
back projection of a sinogram of ones is the sensitivity image ``A^T 1``, the
total LOR length through each pixel, which MLEM divides by. It is flat where
every view sees the pixel and falls off towards the edge of the radial field
of view.

Run: ``python examples/plot_adjoint.py [out.png]``
"""

import dataclasses
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from petsim.grid import Grid  # noqa: E402
from petsim.projectors import LayoutJoseph  # noqa: E402
from petsim.scanner import get_scanner  # noqa: E402
from petsim.plot import save_figure  # noqa: E402


def inner_products(A, rng):
    """Both sides of the adjoint identity for random non-negative ``x`` and ``y``.

    Parameters
    ----------
    A : petsim.core.linear_operator.LinearOperator
        The operator, with ``forward``, ``adjoint``, ``in_shape`` and ``out_shape``.
    rng : numpy.random.Generator
        Source of the random image and sinogram.

    Returns
    -------
    lhs, rhs : float
        ``<A x, y>`` and ``<x, A^T y>``, summed in float64.
    """
    x = rng.uniform(0.0, 1.0, A.in_shape).astype(np.float32)
    y = rng.uniform(0.0, 1.0, A.out_shape).astype(np.float32)
    lhs = np.vdot(A.forward(x).astype(np.float64), y.astype(np.float64))
    rhs = np.vdot(x.astype(np.float64), A.adjoint(y).astype(np.float64))
    return float(lhs), float(rhs)


def main(out_png="adjoint.png"):
    scanner = dataclasses.replace(get_scanner("hrplus"), n_rings=1)  # one ring: one 2D plane
    layout = scanner.layout_2d(view_mashing=4, n_radial=96)        # (1, 72, 96), 2.25 mm bins: 216 mm FOV
    grid = Grid((96, 96, 1), (2.5, 2.5, scanner.ring_spacing_mm))  # 240 mm: the corners lie outside the FOV
    # num_threads=1: on a problem this small, starting numba's threads costs more than the work
    A = LayoutJoseph(grid, layout, num_threads=1)

    lhs, rhs = inner_products(A, np.random.default_rng(0))
    rel = abs(lhs - rhs) / abs(lhs)

    X, Y, _ = grid.coordinates_mm()
    disk = (((X - 30.0) ** 2 + (Y + 20.0) ** 2) <= 25.0**2).astype(np.float32)
    sino = A.forward(disk)
    one_bin = np.zeros(A.out_shape, np.float32)
    one_bin[0, 12, 70] = 1.0
    one_view = np.zeros(A.out_shape, np.float32)
    one_view[0, 48] = sino[0, 48]
    v_bin, v_view = layout.view_angles_rad[12], layout.view_angles_rad[48]
    panels = [
        (A.adjoint(one_bin), f"$A^T$ of one bin: its LOR\n($\\phi$={np.degrees(v_bin):.0f}$\\degree$, "
                             f"s={layout.radial_mm[70]:.0f} mm)"),
        (A.adjoint(one_view), f"$A^T$ of one view of a disk\n($\\phi$={np.degrees(v_view):.0f}$\\degree$)"),
        (A.adjoint(sino), "$A^T A$ disk: all 72 views,\nno ramp filter (1/r blur)"),
        (A.adjoint(np.ones(A.out_shape, np.float32)), "sensitivity image $A^T 1$\n(total LOR length per pixel, mm)"),
    ]

    fig, ax = plt.subplots(2, 2, figsize=(8.5, 7.5), constrained_layout=True)
    ax = ax.ravel()
    extent = [grid.axis_mm(0)[0], grid.axis_mm(0)[-1], grid.axis_mm(1)[0], grid.axis_mm(1)[-1]]
    for a, (img, title) in zip(ax, panels):
        im = a.imshow(img[:, :, 0].T, origin="lower", extent=extent, cmap="magma")
        a.set(title=title, xlabel="x (mm)", ylabel="y (mm)")
        fig.colorbar(im, ax=a, shrink=0.85)
    circle = np.linspace(0, 2 * np.pi, 200)
    r_fov = layout.radial_mm[-1]
    ax[3].plot(r_fov * np.cos(circle), r_fov * np.sin(circle), "c--", lw=1, label="radial FOV")
    ax[3].legend(loc="lower left", fontsize=8)
    fig.suptitle(f"<Ax, y> = {lhs:.7e},  <x, A$^T$y> = {rhs:.7e}:  relative difference {rel:.1e}",
                 fontsize=10)

    save_figure(fig, out_png, dpi=80, tight=False)
    print(f"adjoint identity <Ax,y> = <x,A^T y> on random x, y: relative difference {rel:.2e}")
    return out_png


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
