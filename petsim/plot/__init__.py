"""Figures a person would rather look at than a table (matplotlib, Agg, PNG)."""

from petsim.plot.figures import (
    plot_bp_scatter,
    plot_logan,
    plot_recon_vs_truth,
    plot_sinogram,
    plot_tacs,
    save_figure,
)

__all__ = ["plot_bp_scatter", "plot_logan", "plot_recon_vs_truth", "plot_sinogram", "plot_tacs", "save_figure"]
