"""Studies at scale: noise replicates and virtual cohorts on dask.distributed.

A study file extends a scenario with replicates, subjects, between-subject
variability, a trait correlated with release, two conditions to compare and a
power curve (see :mod:`petsim.study.config`). Every (replicate, subject) is
one Dask task whose random draws come from the study seed and the task's key;
results are stored per task as they finish, so a stopped study resumes.

Dask is imported only when a study runs (``pip install petsim[study]``).
"""

from petsim.study.config import StudyConfig, load_study, study_from_dict
from petsim.study.runner import RunReport, dask_client, run_study
from petsim.study.summary import summarise, write_summary
from petsim.study.tasks import Task, study_tasks

__all__ = ["StudyConfig", "load_study", "study_from_dict", "RunReport", "dask_client", "run_study",
           "summarise", "write_summary", "Task", "study_tasks"]
