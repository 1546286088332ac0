"""Lazy imports of the optional dependencies of :mod:`petsim.study`."""

from __future__ import annotations

INSTALL_HINT = "petsim.study runs on Dask: install it with `pip install petsim[study]`"


def import_distributed():
    """Return the ``dask.distributed`` module, or raise an ImportError that says how to install it."""
    try:
        import dask.distributed as distributed
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"{INSTALL_HINT} ({err})") from err
    return distributed

