"""Writing files whole or not at all, and saying which path could not be written and why.

``atomic_write(path, write)`` calls ``write(f)`` on a temporary file beside ``path``
(``.NAME.tmp-PID``), fsyncs it, renames it over ``path`` and fsyncs the directory, so a killed
process leaves the old file or the new one, never half of one. Any failure raises
:class:`WriteError` ("cannot write PATH: REASON") naming the path asked for, never the
temporary file, and leaves nothing behind.
"""
from __future__ import annotations

import os


class WriteError(OSError):
    """An output path that cannot be written."""


def cannot_write(path, e: BaseException) -> WriteError:
    reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return WriteError(f"cannot write {os.fspath(path)}: {reason}")


def make_dir(path) -> str:
    """Create a directory (and its parents) or raise WriteError naming it."""
    path = os.fspath(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise cannot_write(path, e) from None
    return path


def tmp_path(path) -> str:
    d, name = os.path.split(os.path.abspath(os.fspath(path)))
    return os.path.join(d, f".{name}.tmp-{os.getpid()}")


def atomic_write(path, write, mode: str = "wb") -> None:
    """Write ``path`` atomically: ``write(f)`` fills a temporary file that then replaces it."""
    path = os.fspath(path)
    tmp = tmp_path(path)
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise cannot_write(path, e) from None
    except Exception as e:              # a writer's own error (e.g. soundfile's)
        raise cannot_write(path, e) from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:                      # directories cannot be fsynced everywhere
        pass


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
