"""Signals during training: SIGTERM raised as ``Terminated`` (saved and stopped like Ctrl-C),
held while a step commits, and under MPI voted, so that every rank stops after one same step."""
from __future__ import annotations

import contextlib
import signal
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM (what batch schedulers send before they kill a job), raised where Ctrl-C's
    KeyboardInterrupt would be, so the trainer saves and stops the same way. Inside
    ``sigterm_as_interrupt()`` (the ``wavecore`` command's train, study and demo run there)."""


def _raise_terminated(signum, frame):
    raise Terminated("SIGTERM")


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Inside the block SIGTERM raises Terminated (in the main thread); the previous
    disposition comes back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


_HELD = (signal.SIGINT, signal.SIGTERM)


class Votes:
    """Under MPI: the strongest signal this process has seen and not yet acted on (0 none,
    1 Ctrl-C, 2 SIGTERM). One per process, as signal handlers are: ``votes``."""

    def __init__(self):
        self.seen = 0

    def record(self, signum, frame=None) -> None:
        self.seen = max(self.seen, 2 if signum == signal.SIGTERM else 1)

    def clear(self) -> None:
        self.seen = 0


votes = Votes()


@contextlib.contextmanager
def signals_voted(world):
    """Under MPI (world.size > 1): inside the block Ctrl-C and SIGTERM only record a vote; the
    next training step's small Allreduce tells every rank, and all stop after that same step (a
    rank raising alone would leave the others waiting in a collective). One process: nothing."""
    if world.size == 1 or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, votes.record) for sig in _HELD}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


@contextlib.contextmanager
def signals_held():
    """Hold Ctrl-C (SIGINT) and SIGTERM until the block ends, then deliver them as they would
    have been (a signal whose handler is the default or ignore is left alone)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught, old = [], {}
    for sig in _HELD:
        h = signal.getsignal(sig)
        if callable(h):                    # a Python handler: hold it
            old[sig] = signal.signal(sig, lambda n, f: caught.append(n))
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)
