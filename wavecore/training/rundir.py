"""An output directory belongs to one run at a time.

``owned(directory, "wavecore train")`` holds an advisory lock (``fcntl.flock``) on
``directory/.wavecore.lock`` for as long as the block runs, with the holder written into the
file (pid, host, command, start time). A second process refuses at once, naming the holder. The
kernel releases the lock when its holder dies, even by SIGKILL, so a lock is never stale. Under
mpiexec rank 0 takes it before any rank writes, and every rank learns the outcome. A file system
without flock (some network mounts) gets a warning and a PID file instead, which a holder that
died on this host no longer keeps.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
import warnings

from ..engine import distributed
from ..engine.files import alive, make_dir

try:
    import fcntl
except ImportError:                    # Windows: the PID file
    fcntl = None

LOCK = ".wavecore.lock"
PID_FILE = ".wavecore.pid"
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.ENOTSUP}


class DirectoryInUse(RuntimeError):
    """Another process holds the directory."""


def _holder(command: str) -> bytes:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                       "started": time.time()}).encode()


def _refusal(directory, raw: bytes) -> DirectoryInUse:
    try:
        h = json.loads(raw)
        who = (f"{h['command']} (pid {h['pid']} on {h['host']}, since "
               f"{time.strftime('%H:%M', time.localtime(h['started']))})")
    except (ValueError, KeyError, TypeError):
        who = "another wavecore process"
    return DirectoryInUse(f"{directory} is in use by {who}; wait for it, or choose another --out")


def _flock(directory, command):
    """The lock file's descriptor, held; None where the file system has no flock."""
    fd = os.open(os.path.join(directory, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        raw = os.pread(fd, 4096, 0)
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise _refusal(directory, raw) from None
        if e.errno in _NO_FLOCK:
            return None
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, _holder(command), 0)
    return fd


def _pid_file(directory, command) -> str:
    """Create the PID file (or take over one whose holder died on this host); its path."""
    path = os.path.join(directory, PID_FILE)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            with open(path, "rb") as f:
                raw = f.read()
            try:
                h = json.loads(raw)
                stale = h["host"] == socket.gethostname() and not alive(int(h["pid"]))
            except (ValueError, KeyError, TypeError):
                stale = False
            if not stale:
                raise _refusal(directory, raw) from None
            os.unlink(path)
            continue
        os.write(fd, _holder(command))
        os.close(fd)
        return path
    raise _refusal(directory, b"")


@contextlib.contextmanager
def owned(directory, command: str, world=None):
    """Hold ``directory`` (made if need be) for the block; DirectoryInUse names the holder.
    world (wavecore.engine.distributed): rank 0 takes the lock, every rank raises alike."""
    world = world or distributed.Single()
    directory = os.fspath(directory)
    held, problem = (None, None), None
    if world.rank == 0:
        make_dir(directory)
        try:
            fd = _flock(directory, command) if fcntl is not None else None
            if fd is None:
                if fcntl is not None:
                    # stacklevel=1: the warning is about the file system, not about the caller
                    warnings.warn(f"{directory}: its file system does not support flock; "
                                  "a PID file guards the directory instead", stacklevel=1)
                held = (None, _pid_file(directory, command))
            else:
                held = (fd, None)
        except DirectoryInUse as e:
            problem = str(e)
    problem = world.bcast(problem)
    if problem:
        raise DirectoryInUse(problem)
    try:
        yield
    finally:
        fd, pid_path = held
        if fd is not None:
            os.ftruncate(fd, 0)
            os.close(fd)                     # closing releases the lock
        if pid_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(pid_path)
