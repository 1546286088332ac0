"""PNG figures of a study summary (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from petsim.study.config import StudyConfig
from petsim.study.tasks import MATCHED_CONTROL


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_figures(out_dir, study: StudyConfig, result: dict) -> list:
    """accuracy.png (ΔBP_ND estimate vs truth; bias +- SD of BP_ND), trait.png and power.png."""
    from petsim.plot import save_figure

    plt = _pyplot()
    fig_dir = Path(out_dir) / "figures"
    written = []
    est = result["estimates"]
    models = sorted({row["model"] for row in est})
    regions = sorted({row["region"] for row in est})
    c0, c1 = study.conditions
    if est:
        # Pair the two conditions of each (replicate, subject, region, model), per scan.
        pairs, control = {}, {}
        for row in est:
            key = (row["replicate"], row["subject"], row["region"], row["model"])
            (control if row.get("scan") == MATCHED_CONTROL else pairs).setdefault(key, {})[row["condition"]] = row
        corrected = study.matched_control

        def deltas(key, p):
            """(estimated, true) ΔBP_ND of one pair, corrected by the matched control scan if the study has one."""
            if not (c0 in p and c1 in p and p[c0]["converged"] and p[c1]["converged"]):
                return None
            d = (p[c1]["bp_nd"] - p[c0]["bp_nd"], p[c1]["truth_bp_nd"] - p[c0]["truth_bp_nd"])
            if corrected:
                q = control.get(key, {})
                if not (c0 in q and c1 in q and q[c0]["converged"] and q[c1]["converged"]):
                    return None
                d = (d[0] - (q[c1]["bp_nd"] - q[c0]["bp_nd"]), d[1] - (q[c1]["truth_bp_nd"] - q[c0]["truth_bp_nd"]))
            return d

        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        for model in models:
            d = [deltas(k, p) for k, p in pairs.items() if k[3] == model]
            d = [x for x in d if x is not None]
            axes[0].scatter([t for _, t in d], [e for e, _ in d], s=8, alpha=0.6, label=model)
        lims = axes[0].get_xlim()
        axes[0].plot(lims, lims, "k--", lw=0.8, label="identity")
        axes[0].set(xlabel="true ΔBP_ND", ylabel="estimated ΔBP_ND",
                    title=f"ΔBP_ND = BP[{c1}] - BP[{c0}]" + (" - same in matched control" if corrected else ""))
        axes[0].legend(fontsize=8)
        acc = [a for a in result["accuracy"] if a["quantity"] == f"BP_ND[{c0}]"]
        width = 0.8 / max(1, len(models))
        for k, model in enumerate(models):
            rows = {a["region"]: a for a in acc if a["model"] == model}
            x = np.arange(len(regions)) + k * width
            axes[1].bar(x, [rows.get(r, {}).get("bias", np.nan) for r in regions], width,
                        yerr=[rows.get(r, {}).get("sd", np.nan) for r in regions], capsize=2, label=model)
        axes[1].axhline(0, color="k", lw=0.8)
        axes[1].set_xticks(np.arange(len(regions)) + 0.4 - width / 2, regions, rotation=30, ha="right", fontsize=8)
        axes[1].set(ylabel="bias ± SD of BP_ND", title=f"BP_ND[{c0}] error")
        axes[1].legend(fontsize=8)
        fig.tight_layout()
        written.append(save_figure(fig, fig_dir / "accuracy.png", tight=False))

        region = study.trait.region if study.trait.region in regions else regions[0]
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        for model in models:
            xs, ys = [], []
            for key, p in pairs.items():
                d = deltas(key, p) if key[2] == region and key[3] == model else None
                if d is not None:
                    xs.append(p[c0]["trait"])
                    ys.append(-d[0])
            ax.scatter(xs, ys, s=8, alpha=0.6, label=model)
        det = {(d["region"], d["model"]): d for d in result["detection"]}
        r_text = ", ".join(f"{m}: r={det[(region, m)]['trait_r_recovered']:.2f}" for m in models
                           if (region, m) in det and np.isfinite(det[(region, m)]["trait_r_recovered"]))
        ax.set(xlabel=f"{study.trait.name} (standardised)", ylabel=f"release effect -ΔBP_ND (estimated), {region}",
               title=f"design r = {study.trait.r:g}; {r_text}")
        ax.title.set_fontsize(8)
        ax.legend(fontsize=8)
        fig.tight_layout()
        written.append(save_figure(fig, fig_dir / "trait.png", tight=False))

    if result["power"]:
        region = study.power.region
        rows = [p for p in result["power"] if p["region"] == region] or result["power"]
        region = rows[0]["region"]
        p_models = sorted({p["model"] for p in rows})
        fig, axes = plt.subplots(1, len(p_models), figsize=(5 * len(p_models), 4.2), squeeze=False)
        for ax, model in zip(axes[0], p_models):
            for effect in sorted({p["effect_size"] for p in rows}):
                pts = sorted((p["n_subjects"], p["power"]) for p in rows
                             if p["model"] == model and p["effect_size"] == effect)
                ax.plot([a for a, _ in pts], [b for _, b in pts], "o-", label=f"peak occupancy {effect:g}")
            ax.axhline(study.alpha, color="grey", ls=":", lw=0.8)
            ax.axhline(0.8, color="grey", ls="--", lw=0.8)
            ax.set(xlabel="subjects", ylabel="power (detection rate)", ylim=(-0.02, 1.02),
                   title=f"{region}, {model}, alpha = {study.alpha:g}")
            ax.legend(fontsize=7)
        fig.tight_layout()
        written.append(save_figure(fig, fig_dir / "power.png", tight=False))
    return written
