"""Checkpoints: one ``.npz`` (read with ``allow_pickle=False``) holding the parameters,
Adam moments and a JSON document (config, step, RNG state, training state, metrics),
with a SHA-256 over all of it verified on load. Written atomically: a temporary file in
the same directory, fsync, rename, fsync of the directory; a killed process leaves
either the old file or the new one, never half of one.
"""
from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import re
import zipfile

import numpy as np

from ..engine.files import alive, atomic_write

FORMAT = "wavecore-checkpoint"
VERSION = 1
ARRAYS = ("params", "adam_m", "adam_v")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, truncated, corrupted, or of another version."""


def _digest(meta: bytes, arrays: dict) -> str:
    h = hashlib.sha256(meta)
    for name in ARRAYS + tuple(sorted(set(arrays) - set(ARRAYS))):
        a = arrays[name]
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def save(path, meta: dict, params: np.ndarray, adam_m: np.ndarray, adam_v: np.ndarray,
         extra: dict | None = None) -> None:
    """Write a checkpoint atomically. ``meta`` must be JSON-serialisable; ``extra``: more named
    arrays (e.g. the EWC penalty's), covered by the checksum too."""
    path = os.fspath(path)
    extra = extra or {}
    if set(extra) & {*ARRAYS, "meta", "sha256"}:
        raise ValueError("extra arrays may not be named "
                         f"{sorted(set(extra) & {*ARRAYS, 'meta', 'sha256'})}")
    arrays = {"params": params, "adam_m": adam_m, "adam_v": adam_v, **extra}
    meta = {**meta, "format": FORMAT, "version": VERSION}
    mbytes = json.dumps(meta, sort_keys=True).encode()
    digest = _digest(mbytes, arrays)
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(mbytes, dtype=np.uint8),
             sha256=np.frombuffer(digest.encode(), dtype=np.uint8), **arrays)
    atomic_write(path, lambda f: f.write(buf.getbuffer()))


def load(path) -> tuple[dict, dict]:
    """Read and verify a checkpoint: (meta, {"params", "adam_m", "adam_v", and any extra}).
    Raises CheckpointError naming the file and the problem; nothing is returned half."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            missing = {"meta", "sha256", *ARRAYS} - names
            if missing:
                raise CheckpointError(f"{path}: not a wavecore checkpoint "
                                      f"(missing {sorted(missing)})")
            mbytes = z["meta"].tobytes()
            digest = z["sha256"].tobytes().decode("ascii", "replace")
            arrays = {k: z[k] for k in z.files if k not in ("meta", "sha256")}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: truncated or corrupted checkpoint "
                              f"({type(e).__name__}: {e})") from None
    if _digest(mbytes, arrays) != digest:
        raise CheckpointError(f"{path}: checksum mismatch: the file is corrupted")
    try:
        meta = json.loads(mbytes)
    except ValueError:
        raise CheckpointError(f"{path}: corrupted metadata") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a wavecore checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {meta.get('version')} is not supported "
                              f"(this wavecore reads version {VERSION})")
    return meta, arrays


_NAME = re.compile(r"ckpt-(\d{8,})\.npz$")


def step_path(directory, step: int) -> str:
    return os.path.join(os.fspath(directory), f"ckpt-{step:08d}.npz")


def list_checkpoints(directory) -> list[str]:
    """Checkpoints in a directory, oldest first."""
    found = [(int(m.group(1)), p)
             for p in glob.glob(os.path.join(os.fspath(directory), "ckpt-*.npz"))
             if (m := _NAME.search(os.path.basename(p)))]
    return [p for _, p in sorted(found)]


def latest(directory) -> str | None:
    found = list_checkpoints(directory)
    return found[-1] if found else None


def run_of(path) -> str | None:
    """The run id a checkpoint's metadata names (None: written before runs had ids); "?" when
    the file cannot be read (so it is never taken for a run's own)."""
    try:
        with np.load(path) as z:
            return json.loads(z["meta"].tobytes()).get("run")
    except Exception:                  # unreadable: someone else's business, never pruned
        return "?"


def prune(directory, keep: int, run: str | None = None, written: str | None = None) -> None:
    """Delete all but the newest ``keep`` checkpoints of run ``run`` (those of other runs stay),
    never ``written`` (the one just written), and temporary files of killed writers."""
    own = [p for p in list_checkpoints(directory) if run_of(p) == run]
    for p in own[:-keep] if keep > 0 else []:
        if written is None or os.path.abspath(p) != os.path.abspath(written):
            os.unlink(p)
    for p in glob.glob(os.path.join(os.fspath(directory), ".ckpt-*.npz.tmp-*")):
        try:
            pid = int(p.rsplit("-", 1)[1])
        except ValueError:
            continue
        if pid != os.getpid() and not alive(pid):
            os.unlink(p)

