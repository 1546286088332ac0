"""Run a study on dask.distributed: one task per replicate, results stored as they finish."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from petsim.study import store
from petsim.study._deps import import_distributed
from petsim.study.config import StudyConfig
from petsim.study.tasks import Task, study_tasks


@dataclass(frozen=True)
class RunReport:
    """What one call of :func:`run_study` did."""

    n_tasks: int  # tasks in the study
    n_skipped: int  # already stored as done before this run
    n_ok: int  # tasks completed in this run
    n_failed: int  # tasks recorded with their error in this run
    n_subject_replicates: int  # (replicate, subject) pairs completed in this run
    elapsed_s: float

    @property
    def replicates_per_min(self) -> float:
        """Subject replicates (every condition of one subject in one replicate) per minute."""
        return 60.0 * self.n_subject_replicates / self.elapsed_s if self.elapsed_s > 0 else float("nan")


def subject_function(mode: str):
    """The function ``fn(study, task, subject) -> dict`` that runs one subject in a mode ("tac" or "image")."""
    if mode == "tac":
        from petsim.study.tac_mode import run_tac_subject

        return run_tac_subject
    if mode == "image":
        from petsim.study.image_mode import run_image_subject

        return run_image_subject
    raise ValueError(f"study mode {mode!r}: allowed 'tac' or 'image'")


def _execute(subject_fn, study: StudyConfig, task: Task) -> dict:
    """Worker side: run every subject of one task; exceptions propagate so that Dask retries the task."""
    start = time.perf_counter()
    result = {"subjects": [subject_fn(study, task, s) for s in task.subjects]}
    return {"result": result, "meta": {"elapsed_s": time.perf_counter() - start, "host": socket.gethostname()}}


@contextmanager
def dask_client(workers: int = 1, threads: int = 1, scheduler: str | None = None, processes: bool = True):
    """A ``dask.distributed.Client``: to ``scheduler`` if given, else on a new LocalCluster.

    Parameters
    ----------
    workers, threads : int
        LocalCluster workers and threads per worker (ignored with ``scheduler``).
    scheduler : str, optional
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    processes : bool
        LocalCluster workers as processes (True) or threads of this process.
    """
    distributed = import_distributed()
    if scheduler:
        client = distributed.Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    if workers < 1 or threads < 1:
        raise ValueError(f"workers = {workers!r}, threads = {threads!r}: both must be >= 1")
    # One task per worker thread is the parallelism: numba's own threads inside a
    # task would oversubscribe the cores (Dask already pins OMP/MKL/OpenBLAS to 1).
    extra = {"env": {"NUMBA_NUM_THREADS": "1"}} if processes else {}
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=threads, processes=processes,
                                       dashboard_address=None, silence_logs=logging.ERROR, **extra)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def run_study(study: StudyConfig, out_dir, *, workers: int = 1, threads: int = 1, scheduler: str | None = None,
              processes: bool = True, client=None, subject_fn=None, rerun_failed: bool = True,
              progress: bool = True, on_stored=None) -> RunReport:
    """Run every task of ``study`` not yet stored in ``out_dir``.

    A task is a replicate (or a block of its subjects, see ``subjects_per_task``).
    Each task is one Dask task with ``retries=study.retries``; its result is
    written to ``out_dir/replicates/`` by this (client) process the moment it
    arrives, so the workers need no shared file system. A task that still
    fails after its retries is stored with its error and the study goes on.

    Parameters
    ----------
    study : StudyConfig
    out_dir : str or Path
    workers, threads, scheduler, processes
        Passed to :func:`dask_client` (unless ``client`` is given).
    client : dask.distributed.Client, optional
        An existing client to use (not closed here).
    subject_fn : callable, optional
        ``fn(study, task, subject) -> dict`` (keys ``subject``: its parameters
        with ``trait``; ``rows``: estimate rows) replacing the mode's function.
    rerun_failed : bool
        Run tasks again whose stored record is an error (default True).
    progress : bool
        Show a tqdm progress bar.
    on_stored : callable, optional
        ``on_stored(n_stored_this_run, client)`` after each stored record (tests use it).

    Returns
    -------
    RunReport
    """
    out_dir = Path(out_dir)
    store.init_study_dir(out_dir, study)
    tasks = study_tasks(study)
    done = store.done_tasks(out_dir, tasks, rerun_failed=rerun_failed)
    todo = [t for t in tasks if t not in done]
    fn = subject_fn or subject_function(study.mode)
    start = time.perf_counter()
    if not todo:
        return RunReport(len(tasks), len(done), 0, 0, 0, 0.0)
    if client is None:
        with dask_client(workers, threads, scheduler, processes) as own:
            n_ok, n_failed, n_subj = _submit_and_store(own, study, out_dir, todo, fn, progress, on_stored)
    else:
        n_ok, n_failed, n_subj = _submit_and_store(client, study, out_dir, todo, fn, progress, on_stored)
    return RunReport(len(tasks), len(done), n_ok, n_failed, n_subj, time.perf_counter() - start)


def _submit_and_store(client, study, out_dir, todo, fn, progress, on_stored):
    distributed = import_distributed()
    from tqdm.auto import tqdm

    study_future = client.scatter(study, broadcast=True, hash=False)
    prefix = f"petsim-study-{study.fingerprint()}-"
    keys = [prefix + t.name.replace("/", "-") for t in todo]
    futures = client.map(_execute, [fn] * len(todo), [study_future] * len(todo), todo, key=keys,
                         retries=study.retries)
    task_of = {f.key: t for f, t in zip(futures, todo)}
    n_ok = n_failed = n_subj = 0
    with tqdm(total=len(todo), desc="tasks", unit="task", disable=None if progress else True) as bar:
        # with_results: results are fetched concurrently by the client's event loop,
        # not one blocking round trip per future.
        for future, out in distributed.as_completed(futures, with_results=True, raise_errors=False):
            task = task_of[future.key]
            if future.status == "finished":
                store.write_record(out_dir, task, "ok", result=out["result"], meta=out["meta"])
                n_ok += 1
                n_subj += len(task.subjects)
            else:  # failed after its retries, cancelled, or lost with its workers
                err = out[1] if isinstance(out, tuple) and len(out) == 3 else out
                text = "".join(traceback.format_exception_only(type(err), err)).strip()
                store.write_record(out_dir, task, "error", error=text, meta={"retries": study.retries})
                n_failed += 1
            future.release()
            bar.update(1)
            if on_stored is not None:
                on_stored(n_ok + n_failed, client)
    return n_ok, n_failed, n_subj
