"""Atomic writes: the one way petsim puts a file on disk.

A file is written to a unique temporary name in the target's folder, flushed
to disk (``fsync``) and renamed onto the target, so a reader (or a run killed
at any moment) only ever sees the old file or the complete new one, and two
writers never share a temporary name. The final file is world-readable like
any other file (mode 0644 less the umask, never mkstemp's 0600); folders made
on the way get mode 0755 less the umask.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> write_text_atomic(d / "a" / "note.txt", "hello\\n").read_text()
'hello\\n'
>>> with atomic_path(d / "b.bin") as tmp:
...     _ = tmp.write_bytes(b"xyz")
>>> (d / "b.bin").read_bytes()
b'xyz'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["FILE_MODE", "DIR_MODE", "atomic_path", "ensure_dir", "write_bytes_atomic", "write_text_atomic"]

#: Mode of a written file before the umask (rw-r--r--).
FILE_MODE = 0o644
#: Mode of a folder made for a written file before the umask (rwxr-xr-x).
DIR_MODE = 0o755


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_IMPORT_UMASK = _read_umask()


def _umask() -> int:
    """The process umask, read without changing it where the system allows (threads may be writing)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    return _IMPORT_UMASK


def ensure_dir(path) -> Path:
    """Make folder ``path`` and any missing parents (mode 0755 less the umask); return it as a Path."""
    path = Path(path)
    if not path.is_dir():
        missing = []
        p = path
        while not p.exists() and p != p.parent:
            missing.append(p)
            p = p.parent
        for p in reversed(missing):
            with contextlib.suppress(FileExistsError):  # another process made it meanwhile
                p.mkdir(mode=DIR_MODE)
        if not path.is_dir():
            raise NotADirectoryError(f"cannot write into {path}: it exists and is not a folder")
    return path


def _fsync(path, directory: bool = False) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if directory else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # some systems cannot open a folder; the rename itself is still atomic
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path in the target's folder; it becomes ``path`` only if the block succeeds.

    The block writes the temporary file by name (``nib.save(img, tmp)``,
    ``fig.savefig(tmp)``, ``open(tmp, "wb")``). On success the file gets mode
    0644 (less the umask), is synced to disk and renamed onto ``path``; on any
    error it is removed and the target is left as it was.

    Parameters
    ----------
    path : str or Path
        The target; its folder is made if missing.
    suffix : str, optional
        Ending of the temporary name, kept for writers that look at it
        (``.nii.gz``); default: the target's full suffix.
    """
    path = Path(path)
    ensure_dir(path.parent)
    suffix = "".join(path.suffixes) if suffix is None else suffix
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".part{suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE & ~_umask())  # mkstemp makes 0600
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync(path.parent, directory=True)


def write_bytes_atomic(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return Path(path)


def write_text_atomic(path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically, exactly as given (no newline translation); return the path."""
    return write_bytes_atomic(path, text.encode(encoding))
