"""TAC-level noise measured on image-mode reconstructions, region by region, for TAC-mode studies.

TAC-mode studies add Gaussian noise ``var_i = S^2 C_i exp(lambda t_i) / dt_i`` to noise-free TACs
(C_i decay-corrected, t_i the frame mid-time, dt_i its duration). A single S for every region, set by
a chosen coefficient of variation, gives noise no scanner gives: a small region averages fewer
voxels and is noisier. :func:`tac_noise_scales` measures S for each region on a petsim run of the
same design instead. The run's scan with release and its matched control have the same expected
TACs (up to the release, whose expected effect is known) and independent noise, so their difference
holds twice the noise variance and no model error:

    d_i = recon_release_i - recon_control_i - a (nf_release_i - nf_control_i)
    S_r^2 = mean_i [ (d_i^2 / 2) / (a C_i exp(lambda t_i) / dt_i) ]

with ``a`` the region's recovery (reconstructed over noise-free activity, least squares) and C the
noise-free TAC, so that the scale applies to TAC-mode's noise-free TACs directly. The study key
``noise_table`` takes the table this writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from petsim.core.tsv import read_tsv

__all__ = ["tac_noise_scales", "read_noise_table", "NOISE_TABLE_COLUMNS"]

#: Columns of a noise table (``tac_noise_scales`` rows, ``write_tsv``).
NOISE_TABLE_COLUMNS = ("region", "noise_scale", "recovery", "late_cov", "n_frames")


def tac_noise_scales(run_dir, min_fraction_of_peak: float = 0.01) -> list[dict]:
    """Per-region noise scale S of the TAC noise model, from a run with a matched control scan.

    Parameters
    ----------
    run_dir : path
        A reconstructed petsim run whose scenario simulated the control scan (``analysis.control``).
    min_fraction_of_peak : float
        Frames whose noise-free activity is below this fraction of the region's peak are left out.

    Returns
    -------
    list of dict
        One row per region: ``noise_scale`` (S, in (Bq/mL x min)^(1/2)), ``recovery`` (a),
        ``late_cov`` (the model's coefficient of variation of the last frame, for reading),
        ``n_frames`` (frames used).
    """
    from petsim.core.isotopes import get_isotope
    from petsim.modeling import read_tac_table
    from petsim.pipeline.layout import RunLayout
    from petsim.pipeline.scenario import load_scenario

    run = Path(run_dir)
    scenario = load_scenario(run / "scenario_resolved.toml")
    lay = RunLayout(run, scenario.subject)
    paths = {(desc, scan): lay.deriv(desc, "tacs", scan) for desc in ("recon", "noisefree") for scan in ("release", "control")}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{run} lacks {', '.join(missing)}: the noise is measured on a reconstructed run "
                                "with its matched control scan (analysis.control = true and a release)")
    tables = {k: read_tac_table(p) for k, p in paths.items()}
    recon_rel = tables[("recon", "release")]
    start, end = recon_rel.frame_start_min, recon_rel.frame_end_min
    mid, dt = 0.5 * (start + end), end - start
    growth = np.exp(get_isotope(scenario.tracer.isotope).decay_constant_per_min * mid) / dt
    rows = []
    for region in sorted(recon_rel.regions):
        nf_rel = tables[("noisefree", "release")].regions.get(region)
        nf_ctl = tables[("noisefree", "control")].regions.get(region)
        if nf_rel is None or nf_ctl is None:
            continue
        rec_rel, rec_ctl = recon_rel.regions[region], tables[("recon", "control")].regions[region]
        nf = 0.5 * (nf_rel + nf_ctl)
        use = nf > min_fraction_of_peak * nf.max()
        if use.sum() < 3:
            continue
        recovery = float(np.dot(nf[use], 0.5 * (rec_rel + rec_ctl)[use]) / np.dot(nf[use], nf[use]))
        d = rec_rel - rec_ctl - recovery * (nf_rel - nf_ctl)
        s2 = float(np.mean((0.5 * d[use] ** 2) / (recovery * nf[use] * growth[use])))
        rows.append({"region": region, "noise_scale": float(np.sqrt(s2)), "recovery": recovery,
                     "late_cov": float(np.sqrt(s2 * growth[-1] / nf[-1])) if nf[-1] > 0 else float("nan"),
                     "n_frames": int(use.sum())})
    return rows


def read_noise_table(path) -> dict:
    """``{region: noise scale S}`` from a table :func:`tac_noise_scales` wrote (``region``, ``noise_scale``)."""
    rows = read_tsv(path)
    if not rows or not {"region", "noise_scale"} <= set(rows[0]):
        raise ValueError(f"{path}: a noise table needs the columns region and noise_scale")
    out = {}
    for r in rows:
        s = float(r["noise_scale"])
        if not (np.isfinite(s) and s >= 0):
            raise ValueError(f"{path}: noise_scale of {r['region']!r} is {r['noise_scale']!r}; it must be >= 0")
        out[str(r["region"])] = s
    return out
