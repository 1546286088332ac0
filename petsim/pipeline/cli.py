"""``petsim simulate | reconstruct | fit | report | run | demo | score | export-stir | scenario``."""

from __future__ import annotations

from pathlib import Path

DEMO_SCENARIO = "demo"


def _add_force(p):
    p.add_argument("--force", action="store_true", help="redo stages that already ran")
    p.add_argument("-q", "--quiet", action="store_true", help="print less")


def register(sub) -> None:
    p = sub.add_parser("simulate", help="simulate the truth and the scan of a scenario",
                       description="Simulate the phantom, kinetics (truth) and the scan (sinograms) of SCENARIO into DIR.")
    p.add_argument("scenario", help="scenario TOML file, or the name of a shipped scenario")
    p.add_argument("-o", "--out", required=True, help="output directory")
    _add_force(p)
    p.set_defaults(func=_simulate)

    p = sub.add_parser("reconstruct", help="reconstruct the simulated scans in DIR",
                       description="Reconstruct the scans simulated in DIR as the scenario says (4D NIfTI + BIDS sidecar, TACs).")
    p.add_argument("dir", help="a petsim run folder (its simulate stage complete)")
    _add_force(p)
    p.set_defaults(func=_reconstruct)

    p = sub.add_parser("report", help="write the validation report of DIR (HTML + PNG)")
    p.add_argument("dir", help="a petsim run folder (its fit stage complete)")
    _add_force(p)
    p.set_defaults(func=_report)

    p = sub.add_parser("run", help="simulate, reconstruct, fit and report a scenario",
                       description="Run the whole chain on SCENARIO into DIR; stages that already ran are reused.")
    p.add_argument("scenario", help="scenario TOML file, or the name of a shipped scenario")
    p.add_argument("-o", "--out", required=True, help="output directory (a BIDS dataset)")
    _add_force(p)
    p.set_defaults(func=_run)

    p = sub.add_parser("demo", help="run the shipped default scenario end to end (a few minutes on 2 cores)",
                       description="Run the shipped demo scenario end to end and print true against estimated BP_ND and ΔBP_ND.")
    p.add_argument("-o", "--out", default="petsim-demo", help="output directory (default: ./petsim-demo)")
    _add_force(p)
    p.set_defaults(func=_demo)

    p = sub.add_parser("score", help="score BP_ND estimates of any tool against a simulation's truth",
                       description="Score a table of BP_ND estimates (TSV or CSV, a region and a BP_ND column) against the truth in DIR.")
    p.add_argument("estimates", help="a TSV or CSV of BP_ND estimates from any tool")
    p.add_argument("dir", help="the petsim run folder whose truth scores them")
    p.add_argument("--region-column", default="region", help="column with the region names (default: region)")
    p.add_argument("--bp-column", default="BP_ND", help="column with the BP_ND estimates (default: BP_ND)")
    p.add_argument("--model-column", default="model", help="column naming the model, if any (default: model)")
    p.add_argument("--window-column", default="window", help="column naming the scenario window, if any (default: window)")
    p.add_argument("--window", default=None, help="the scenario window the estimates belong to (default: the first)")
    p.set_defaults(func=_score)

    # `petsim fit` (registered by petsim.modeling) also takes a petsim run directory: then the
    # scenario's models, reference, windows and the matched control are used.
    if "fit" in sub.choices:
        fit_parser = sub.choices["fit"]
        fit_parser.add_argument("--force", action="store_true",
                                help="replace the outputs of an earlier fit (of a table, or a run directory's fit stage)")
        fit_parser.set_defaults(func=_fit_dispatch, modeling_func=fit_parser.get_default("func"))

    p = sub.add_parser("export-stir", help="write a simulated scan's frames as STIR reconstructs them (terms + OSEM .par)",
                       description="For each frame of a scan simulated in DIR, write STIR's multiplicative (1 / (scale x "
                                   "normalisation x attenuation x live fraction)) and additive (randoms + scatter in the "
                                   "normalised domain) sinograms as Interfile and an OSMAPOSL parameter file that "
                                   "reconstructs the stored prompts (docs/stir.md).")
    p.add_argument("dir", help="a petsim run folder (its simulate stage complete)")
    p.add_argument("--scan", default="release", choices=("release", "control"), help="which scan (default: release)")
    p.add_argument("--frames", type=int, nargs="+", default=None,
                   help="frame numbers, from 0 (default: every frame; each takes two float32 sinograms of disk)")
    p.add_argument("-o", "--out", default=None, help="output folder (default: DIR/derivatives/petsim/sub-XX/stir)")
    p.add_argument("-q", "--quiet", action="store_true", help="print less")
    p.set_defaults(func=_export_stir)

    p = sub.add_parser("budget", help="split a run's error into what each estimated correction costs",
                       description="Rerun the scenario of DIR in memory with every correction exact (the oracle), with "
                                   "each estimated correction alone, and as the scenario has them, from the same noise "
                                   "seed; write the bias of BP_ND and the error of ΔBP_ND of each to "
                                   "derivatives/petsim/sub-XX/sub-XX_desc-budget_bp.tsv and add them to the report "
                                   "(docs/acquisition.md). Takes a few times as long as the run's simulate and "
                                   "reconstruct stages.")
    p.add_argument("dir", help="a petsim run folder (its fit stage complete)")
    p.add_argument("--seed", type=int, default=None, help="noise seed (default: the scenario's, which reproduces the run)")
    p.add_argument("-q", "--quiet", action="store_true", help="print less")
    p.set_defaults(func=_budget)

    p = sub.add_parser("scenario", help="list the scenario keys with their defaults, or the shipped scenarios")
    p.add_argument("--list", action="store_true", help="list the shipped scenarios")
    p.set_defaults(func=_scenario)


def _simulate(args):
    from petsim.pipeline.run import simulate_stage

    simulate_stage(args.scenario, args.out, force=args.force, quiet=args.quiet)


def _reconstruct(args):
    from petsim.pipeline.run import reconstruct_stage

    reconstruct_stage(args.dir, force=args.force, quiet=args.quiet)


def _fit_dispatch(args):
    if (Path(args.path) / "scenario_resolved.toml").is_file():
        from petsim.pipeline.run import fit_stage

        fit_stage(args.path, force=args.force)
        return 0
    return args.modeling_func(args)


def _report(args):
    from petsim.pipeline.run import report_stage

    report_stage(args.dir, force=args.force, quiet=args.quiet)


def _run(args):
    from petsim.pipeline.run import run_all

    run_all(args.scenario, args.out, force=args.force, quiet=args.quiet)


def _demo(args):
    import time

    from petsim.pipeline.run import run_all, summary_table
    from petsim.io import read_tsv
    from petsim.pipeline.layout import RunLayout

    t0 = time.perf_counter()
    index = run_all(DEMO_SCENARIO, args.out, force=args.force, quiet=args.quiet)
    root = Path(args.out)
    lay = RunLayout(root, "01")
    rows = read_tsv(lay.deriv("validation", "bp"))
    shown = list(dict.fromkeys(r["region"] for r in rows))[:8]
    print("\nTrue against estimated BP_ND (baseline window, %) and ΔBP_ND (task - baseline, in % of the baseline,")
    print("judged against the matched no-release control); the released regions first. All regions: "
          f"{lay.deriv('validation', 'bp')}")
    print(summary_table([r for r in rows if r["region"] in shown]))
    print(f"\nDone in {time.perf_counter() - t0:.0f} s. Outputs in {root.resolve()}:")
    print(f"  report      {Path(index).resolve()}")
    print(f"  images      {lay.pet_dir.resolve()}")
    print(f"  truth, TACs and estimates  {lay.deriv_dir.resolve()}")


def _score(args):
    from petsim.pipeline.score import score_estimates, summarise

    rows, table = score_estimates(args.estimates, args.dir, args.region_column, args.bp_column, args.model_column,
                                  args.window_column, args.window)
    print(summarise(rows))
    print(f"score table: {table}")


def _export_stir(args):
    from petsim.pipeline.stir_export import export_stir

    export_stir(args.dir, scan=args.scan, frames=args.frames, out_dir=args.out, quiet=args.quiet)


def _budget(args):
    from petsim.pipeline.run import budget_stage

    budget_stage(args.dir, seed=args.seed, quiet=args.quiet)


def _scenario(args):
    from petsim.pipeline.scenario import describe_schema, shipped_scenarios

    if args.list:
        print("\n".join(shipped_scenarios()))
    else:
        print(describe_schema())
