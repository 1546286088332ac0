"""Attenuation and scatter: why a PET image needs attenuation correction.

Both 511 keV photons of an annihilation must escape the body. Along a line of
response (LOR) the chance that neither is absorbed or scattered away is
``a = exp(-int mu dl)``, whatever the point of emission on the line: for the
central LOR of a 20-cm water cylinder (mu = 0.096 /cm) ``a = exp(-0.096 x 20)
= 0.147``, so only one pair in seven survives, while LORs that graze the edge
lose almost nothing. The measured sinogram is ``a x`` the line integrals of the
activity; reconstructed without the factor ``a`` (no attenuation correction,
no AC) a uniform cylinder shows a deep central dip ("cupping"). Dividing by
``a`` inside the model (here in OSEM's multiplicative term) restores a flat image.

Photons that Compton-scatter and are still detected add a smooth background
that extends beyond the object. petsim does not simulate the scatter physics:
its scatter model (``petsim.acquisition.scatter``) is a wide Gaussian low-pass
of the attenuated trues in sinogram space (FWHM 100 mm radially, 40 degrees
across views), scaled so that ``S / (S + T)`` equals the scatter fraction
(0.35, HR+ 3D, Brix et al. 1997) - a fast, transparent stand-in, not a
single-scatter simulation. The figure shows one 2D slice (a one-ring HR+,
144 views x 288 bins of 2.25 mm): the activity's line integrals, the
attenuation factors, the attenuated trues plus scatter (and a profile), and
noise-free OSEM images without and with AC (scatter modelled in both).

Run: ``python examples/plot_attenuation_scatter.py [out.png]``
"""

import dataclasses
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from petsim.acquisition import ScanPhysics, SinogramLowPass, cylinder_fraction, scatter_sinogram  # noqa: E402
from petsim.acquisition.constants import WATER_MU_PER_CM  # noqa: E402
from petsim.emission import EmissionData  # noqa: E402
from petsim.grid import Grid  # noqa: E402
from petsim.operators import system_model  # noqa: E402
from petsim.recon import OSEMSetup, osem  # noqa: E402
from petsim.scanner import get_scanner  # noqa: E402
from petsim.plot import save_figure  # noqa: E402


def ring_means(image, grid, r_inner_mm, r_outer_mm):
    """Mean of a 2D slice over an annulus centred on the scanner axis.

    Parameters
    ----------
    image : ndarray, shape (nx, ny)
        One transaxial slice.
    grid : petsim.grid.Grid
        Its grid (x and y axes used).
    r_inner_mm, r_outer_mm : float
        Inner and outer radius of the annulus (mm).

    Returns
    -------
    float
        Mean of the pixels whose centres lie in the annulus.
    """
    x, y = grid.axis_mm(0), grid.axis_mm(1)
    r = np.hypot(x[:, None], y[None, :])
    inside = (r >= r_inner_mm) & (r < r_outer_mm)
    return float(image[inside].mean())


def main(out_png="attenuation_scatter.png"):
    diameter_mm = 200.0
    scanner = dataclasses.replace(get_scanner("hrplus"), n_rings=1)   # one ring: a single 2D slice
    layout = scanner.layout_2d(view_mashing=2, cross_planes=False)   # (1, 144, 288)
    grid = Grid((112, 112, 1), (2.25, 2.25, scanner.ring_spacing_mm))
    cyl = cylinder_fraction(grid, diameter_mm, 1000.0)               # partial-pixel edge, 1 Bq/mL inside
    mu = WATER_MU_PER_CM * cyl                                        # 1/cm

    A = system_model(grid, layout)                                   # line integrals (mm)
    line = A.forward(cyl)                                            # activity x path length (Bq/mL x mm)
    att = A.attenuation_factors(mu)                                  # exp(-0.1 * P mu), mu in 1/cm, P in mm
    trues = att * line
    phys = ScanPhysics()                                             # petsim defaults: SF 0.35, kernel 100 mm / 40 deg
    lowpass = SinogramLowPass(layout, phys.scatter_fwhm_mm[0], phys.scatter_fwhm_mm[1], phys.scatter_view_fwhm_deg)
    scatter = scatter_sinogram(trues, np.ones_like(trues), lowpass, phys.scatter_fraction)
    prompts = trues + scatter

    # central LOR: view 0, the radial bin nearest the axis
    centre_bin = int(np.argmin(np.abs(layout.radial_mm)))
    a_centre = float(att[0, 0, centre_bin])
    a_analytic = float(np.exp(-WATER_MU_PER_CM * diameter_mm / 10.0))

    images = {}
    for name, mult in (("no AC", np.ones_like(prompts)), ("with AC", att)):
        setup = OSEMSetup(grid, layout, n_subsets=8, multiplicative=mult)
        data = EmissionData(prompts=prompts, multiplicative=mult, additive=scatter, scale=1.0)
        images[name] = osem(data, setup, n_iter=6, progress=False)[:, :, 0]
    ratio = {k: ring_means(v, grid, 0.0, 20.0) / ring_means(v, grid, 80.0, 90.0) for k, v in images.items()}

    fig, ax = plt.subplots(2, 3, figsize=(11, 6.6), constrained_layout=True)
    r = layout.radial_mm
    ext = (r[0], r[-1], 180.0, 0.0)
    for a, img, title in ((ax[0, 0], line[0], "activity line integrals $\\int f\\,dl$"),
                          (ax[0, 1], att[0], "attenuation factors $e^{-\\int \\mu\\,dl}$"),
                          (ax[0, 2], prompts[0], "attenuated trues + scatter")):
        im = a.imshow(img, aspect="auto", extent=ext, cmap="gray_r")
        a.set(xlabel="radial position (mm)", ylabel="view angle (deg)", title=title, xlim=(-160, 160))
        fig.colorbar(im, ax=a, shrink=0.8)
    a = ax[1, 0]
    a.plot(r, line[0, 0] / line[0, 0].max(), label="no attenuation (scaled)")
    a.plot(r, trues[0, 0] / line[0, 0].max(), label="attenuated trues")
    a.plot(r, scatter[0, 0] / line[0, 0].max(), label=f"scatter model (SF {phys.scatter_fraction:.2f})")
    a.plot(r, prompts[0, 0] / line[0, 0].max(), "k", lw=1, label="trues + scatter")
    a.axhline(a_analytic, color="0.5", ls=":", lw=1, label=f"$e^{{-0.096 \\times 20}}$ = {a_analytic:.3f}")
    a.set(xlabel="radial position (mm)", ylabel="relative counts", title="Profile of view 0", xlim=(-150, 150))
    a.legend(fontsize=7)
    vmax = max(float(v.max()) for v in images.values())
    ext_img = (grid.axis_mm(0)[0], grid.axis_mm(0)[-1], grid.axis_mm(1)[0], grid.axis_mm(1)[-1])
    for a, name in ((ax[1, 1], "no AC"), (ax[1, 2], "with AC")):
        a.imshow(images[name].T, origin="lower", extent=ext_img, cmap="magma", vmin=0, vmax=vmax)
        mid = images[name][:, grid.shape[1] // 2]
        a2 = a.inset_axes([0.0, -0.02, 1.0, 0.25], transform=a.transAxes)
        a2.plot(grid.axis_mm(0), mid, color="w", lw=1)
        a2.set(ylim=(0, 1.4 * vmax), xlim=ext_img[:2])
        a2.axis("off")
        a.set(xlabel="x (mm)", ylabel="y (mm)",
              title=f"OSEM {name}: centre/edge {ratio[name]:.2f}")

    save_figure(fig, out_png, dpi=90, tight=False)
    print(f"centre/edge ratio without AC {ratio['no AC']:.2f} (with AC {ratio['with AC']:.2f}); "
          f"central-LOR attenuation factor {a_centre:.4f} vs exp(-0.096 x 20) = {a_analytic:.4f}")
    return out_png


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
