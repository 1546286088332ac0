"""``petsim study run STUDY.toml -o DIR`` and ``petsim study summary DIR``."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``study`` subcommand group to the ``petsim`` parser."""
    parser = subparsers.add_parser(
        "study", help="noise replicates and virtual cohorts on Dask",
        description="Run simulation studies (noise replicates, virtual cohorts, power) on dask.distributed.")
    sub = parser.add_subparsers(dest="study_command", metavar="STUDY_COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run (or resume) a study", description=(
        "Run every replicate of STUDY.toml not yet stored in DIR, then write the summary. "
        "A stopped study resumes where it was when run again with the same DIR."))
    run.add_argument("study", help="study TOML file")
    run.add_argument("-o", "--out", required=True, help="output folder (created; reused to resume)")
    run.add_argument("--workers", type=int, default=1, help="LocalCluster workers (default 1)")
    run.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="address of a running Dask scheduler (e.g. tcp://host:8786) instead of a LocalCluster")
    run.add_argument("--in-process", action="store_true",
                     help="LocalCluster workers as threads of this process instead of processes")
    run.add_argument("--keep-failed", action="store_true",
                     help="do not run again the replicates stored with an error")
    run.add_argument("--no-summary", action="store_true", help="skip the summary tables and figures")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)

    summ = sub.add_parser("summary", help="tables (TSV) and figures (PNG) of a study folder")
    summ.add_argument("dir", help="study output folder")
    summ.add_argument("--no-figures", action="store_true", help="tables only")
    summ.set_defaults(func=_summary)


def _run(args: argparse.Namespace) -> int:
    from petsim.study.config import load_study
    from petsim.study.runner import run_study

    if args.workers < 1 or args.threads < 1:
        raise ValueError(f"--workers {args.workers} --threads {args.threads}: both must be >= 1")
    study = load_study(args.study)
    report = run_study(study, args.out, workers=args.workers, threads=args.threads, scheduler=args.scheduler,
                       processes=not args.in_process, rerun_failed=not args.keep_failed,
                       progress=not args.quiet)
    print(f"{report.n_tasks} tasks: {report.n_skipped} already done, {report.n_ok} run now, "
          f"{report.n_failed} failed (recorded with their error); "
          f"{report.replicates_per_min:.1f} subject replicates/min")
    if not args.no_summary:
        _print_summary(args.out, figures=True)
    return 0 if report.n_failed == 0 else 1


def _summary(args: argparse.Namespace) -> int:
    _print_summary(args.dir, figures=not args.no_figures)
    return 0


def _print_summary(out_dir, figures: bool) -> None:
    from petsim.study.summary import write_summary

    res = write_summary(out_dir, figures=figures)
    width = max([22] + [len(a["quantity"]) + 2 for a in res["accuracy"]])
    print(f"{'region':<24}{'model':<12}{'quantity':<{width}}{'n':>6}{'bias':>10}{'SD':>9}{'RMSE':>9}{'cover':>7}")
    for a in res["accuracy"]:
        print(f"{a['region']:<24}{a['model']:<12}{a['quantity']:<{width}}{a['n']:>6}{a['bias']:>10.4f}"
              f"{a['sd']:>9.4f}{a['rmse']:>9.4f}{a['ci_coverage']:>7.2f}")
    for d in res["detection"]:
        extra = (f" (matched control; uncorrected {d['rate_uncorrected']:.3f})" if "rate_uncorrected" in d else "")
        print(f"{d['region']:<24}{d['model']:<12}{d['kind']} {d['rate']:.3f} "
              f"[{d['ci_low']:.3f}, {d['ci_high']:.3f}]{extra} over {d['n_replicates']} replicates; "
              f"trait r recovered {d['trait_r_recovered']:.3f}")
    if res["n_failed"]:
        print(f"{res['n_failed']} subject replicates failed; see their files in {out_dir}/replicates")
    for path in res["files"]:
        print(f"wrote {path}")
