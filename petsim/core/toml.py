"""Reading TOML (scenarios, studies, tracer tables, phantom definitions) with errors that name the file.

``tomllib`` from the standard library on Python >= 3.11, ``tomli`` before.

Examples
--------
>>> loads_toml('a = 1\\n[b]\\nc = "x"\\n', source="inline")
{'a': 1, 'b': {'c': 'x'}}
>>> loads_toml("a = ", source="settings.toml")
Traceback (most recent call last):
...
petsim.core.toml.TomlError: settings.toml: not valid TOML: Invalid value (at end of document)
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["TomlError", "load_toml", "loads_toml", "tomllib"]


class TomlError(ValueError):
    """A TOML file or text could not be read; the message names it and says what was wrong."""


def loads_toml(text: str, source: str = "<TOML text>", error=TomlError, too_deep=None) -> dict:
    """Parse TOML ``text``; a failure raises ``error`` with a message starting ``"<source>: "``.

    Parameters
    ----------
    source : str
        What the text is (a file name), for the message.
    error : type
        Exception class raised on failure (a subclass of ValueError, e.g. a module's own error).
    too_deep : callable, optional
        ``too_deep(text) -> str``: what to say when the text nests too deeply
        for the parser; default: a generic sentence.
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise error(f"{source}: not valid TOML: {err}") from None
    except RecursionError:
        why = too_deep(text) if too_deep is not None else "arrays or tables nest too deeply to read"
        raise error(f"{source}: {why}") from None


def load_toml(path, error=TomlError, too_deep=None) -> dict:
    """Read the TOML file ``path`` (UTF-8; a byte-order mark is allowed).

    Raises ``FileNotFoundError`` when the file is missing and ``error``
    (default :class:`TomlError`, a ValueError) naming the file when it is not
    UTF-8 text or not valid TOML; see :func:`loads_toml`.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"no such TOML file: {path}") from None
    except UnicodeDecodeError as err:
        raise error(f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); save the file as UTF-8") from None
    return loads_toml(text, str(path), error=error, too_deep=too_deep)
