"""MLEM vs OSEM: the same climb of the likelihood, n times fewer passes over the data.

Counts ``y_i`` in sinogram bin ``i`` are Poisson with mean ``ybar_i = (A x)_i``,
so the image ``x`` is estimated by maximising the Poisson log-likelihood
``L(x) = sum_i y_i log ybar_i - ybar_i``. MLEM (Shepp & Vardi 1982) does it with
the multiplicative update

    x <- x / (A^T 1) * A^T (y / A x),

which keeps ``x >= 0`` and never decreases ``L``, but needs one forward and one
back projection of all the data per update. OSEM (Hudson & Larkin 1994) splits
the views into ``n`` interleaved subsets and applies the same update with one
subset's ``A_S`` at a time: ``n`` image updates per pass over the data. Early on,
each subset update moves the image about as much as a full MLEM update, so OSEM
with ``n`` subsets reaches in one iteration about the likelihood, and the image,
that MLEM reaches in ``n``; it is ``n`` times cheaper, but it does not converge
to the maximum (it ends in a limit cycle), which is why it is stopped early.

The example simulates Poisson data (about 500 000 counts) of a 2D disk phantom
with a hot and a cold insert on one plane of the HR+ (72 views) and runs MLEM
and OSEM with 8 subsets (petsim's ``mlem`` and ``osem``, recording ``L``). The
left plots show the likelihood gain ``L(x_k) - L(x_0)`` against the number of
image updates (sub-iterations) and against the number of full passes (the
cost); the images compare MLEM after 1 and 8 iterations with OSEM after 1.
The printed number is OSEM's gain after 1 iteration as a fraction of MLEM's
after 8.

Run: ``python examples/plot_mlem_osem.py [out.png]``
"""

import dataclasses
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from petsim.emission import EmissionData  # noqa: E402
from petsim.grid import Grid  # noqa: E402
from petsim.projectors import LayoutJoseph  # noqa: E402
from petsim.recon import OSEMSetup, mlem, osem  # noqa: E402
from petsim.scanner import get_scanner  # noqa: E402
from petsim.phantom.disks import disk_image  # noqa: E402
from petsim.plot import save_figure  # noqa: E402

# (centre x mm, centre y mm, radius mm, activity added) of each disk; the inserts add to the background.
DISKS = ((0.0, 0.0, 90.0, 1.0), (35.0, 25.0, 15.0, 3.0), (-35.0, -15.0, 18.0, -1.0))
N_SUBSETS = 8


def poisson_data(A, image, total_counts, rng):
    """One Poisson realisation of the projection of ``image``, as the reconstructions' input.

    Parameters
    ----------
    A : LinearOperator
        Projector (image -> sinogram, line integrals in activity x mm).
    image : ndarray
        True activity.
    total_counts : float
        Expected number of counts in the whole sinogram.
    rng : numpy.random.Generator

    Returns
    -------
    EmissionData
        Prompts ``~ Poisson(scale * A image)`` with ``scale = total_counts / sum(A image)``,
        multiplicative factors 1 and no additive term, so that reconstructions are in the
        image's units.
    """
    line = A.forward(image).astype(np.float64)
    scale = total_counts / line.sum()
    prompts = rng.poisson(scale * line).astype(np.float32)
    return EmissionData(prompts=prompts, multiplicative=np.ones_like(prompts), additive=np.zeros_like(prompts),
                        scale=scale)


def main(out_png="mlem_osem.png"):
    scanner = dataclasses.replace(get_scanner("hrplus"), n_rings=1)  # one ring: one 2D plane
    layout = scanner.layout_2d(view_mashing=4, n_radial=96)        # (1, 72, 96), 2.25 mm bins: 216 mm FOV
    grid = Grid((64, 64, 1), (3.2, 3.2, scanner.ring_spacing_mm))
    truth = disk_image(grid, DISKS)
    # num_threads=1: on a problem this small, starting numba's threads costs more than the work
    data = poisson_data(LayoutJoseph(grid, layout, num_threads=1), truth, 5e5, np.random.default_rng(1))

    n_mlem = 4 * N_SUBSETS
    one = OSEMSetup(grid, layout, n_subsets=1, num_threads=1)
    sub = OSEMSetup(grid, layout, n_subsets=N_SUBSETS, num_threads=1)
    _, l_mlem = mlem(data, one, n_mlem, record_loglik=True, progress=False)
    _, l_osem = osem(data, sub, n_mlem // N_SUBSETS, record_loglik=True, progress=False)
    l0 = l_mlem[0]                                   # both start from the same uniform image
    gain_mlem, gain_osem = np.asarray(l_mlem) - l0, np.asarray(l_osem) - l0
    ratio = gain_osem[1] / gain_mlem[N_SUBSETS]
    mlem_1 = mlem(data, one, 1, progress=False)
    mlem_n = mlem(data, one, N_SUBSETS - 1, x0=mlem_1, progress=False)  # continues: N_SUBSETS iterations in all
    images = [(truth, "truth"),
              (mlem_1, "MLEM, 1 iteration (1 update)"),
              (osem(data, sub, 1, progress=False), f"OSEM {N_SUBSETS} subsets, 1 iteration ({N_SUBSETS} updates)"),
              (mlem_n, f"MLEM, {N_SUBSETS} iterations ({N_SUBSETS} updates)")]

    fig = plt.figure(figsize=(12, 6.5), constrained_layout=True)
    gs = fig.add_gridspec(2, 4)
    it_mlem = np.arange(n_mlem + 1)
    it_osem = np.arange(len(l_osem))
    a = fig.add_subplot(gs[0, :2])
    a.plot(it_mlem[1:], gain_mlem[1:], "C0.-", label="MLEM (1 update per iteration)")
    a.plot(N_SUBSETS * it_osem[1:], gain_osem[1:], "C3o-",
           label=f"OSEM {N_SUBSETS} subsets ({N_SUBSETS} per iteration)")
    a.set(xscale="log", xlabel="image updates (sub-iterations)", ylabel="$L(x_k) - L(x_0)$",
          title="Gain per image update: about the same ($x_0$ uniform)")
    a.legend(fontsize=8)
    a = fig.add_subplot(gs[1, :2])
    a.plot(it_mlem[1:], gain_mlem[1:], "C0.-", label="MLEM")
    a.plot(it_osem[1:], gain_osem[1:], "C3o-", label=f"OSEM {N_SUBSETS} subsets")
    a.axhline(gain_mlem[N_SUBSETS], color="0.5", ls=":", lw=1, label=f"MLEM after {N_SUBSETS} iterations")
    a.set(xscale="log", xlabel="iterations (full passes over the data: the cost)", ylabel="$L(x_k) - L(x_0)$",
          title=f"Per pass: OSEM 1 iteration = {100 * ratio:.1f} % of MLEM {N_SUBSETS}'s gain")
    a.legend(fontsize=8)
    extent = [grid.axis_mm(0)[0], grid.axis_mm(0)[-1], grid.axis_mm(1)[0], grid.axis_mm(1)[-1]]
    for k, (img, title) in enumerate(images):
        a = fig.add_subplot(gs[k // 2, 2 + k % 2])
        a.imshow(img[:, :, 0].T, origin="lower", extent=extent, cmap="gray_r", vmin=0, vmax=4.5)
        a.set(title=title, xticks=[], yticks=[])
        a.title.set_fontsize(9)

    save_figure(fig, out_png, dpi=80, tight=False)
    print(f"log-likelihood gain: OSEM {N_SUBSETS} subsets x 1 iteration reaches {100 * ratio:.2f} % of "
          f"MLEM x {N_SUBSETS} iterations ({gain_osem[1]:.4g} vs {gain_mlem[N_SUBSETS]:.4g}; "
          f"MLEM x 1: {gain_mlem[1]:.4g})")
    return out_png


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
