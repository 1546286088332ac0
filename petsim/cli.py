"""The ``petsim`` command line. Each subcommand lives in its own module and registers here."""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="petsim",
        description="Simulate, reconstruct and analyse dynamic PET brain scans whose truth is known.",
    )
    from petsim import __version__

    parser.add_argument("--version", action="version", version=f"petsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    # Subcommands are registered by the layer that owns them.
    for register in _registrars():
        register(sub)
    return parser


def _registrars():
    """The ``register(subparsers)`` of each layer that owns commands.

    The modeling layer comes first: the pipeline extends its ``fit`` to run directories.
    """
    from petsim.modeling import cli as modeling_cli
    from petsim.pipeline import cli as pipeline_cli
    from petsim.study import cli as study_cli

    return [modeling_cli.register, pipeline_cli.register, study_cli.register]


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # the reader closed the pipe (`petsim scenario | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, FileNotFoundError, KeyError, TypeError, ImportError) as err:
        if os.environ.get("PETSIM_DEBUG"):
            raise
        print(f"petsim {args.command}: error: {err}", file=sys.stderr)
        print("(set PETSIM_DEBUG=1 for the full traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
