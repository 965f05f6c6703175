"""Generation. ``NaiveSampler`` is the reference: every step it recomputes the network over
the last receptive field of samples. ``CachedSampler`` is the fast WaveNet algorithm: per
layer a queue of the last d inputs, one column of work per layer per step. It is one driver
for every backend; the backend object supplies "advance k steps": ``NumpyAdvance`` (the
reference of the compiled loops, built from wavecore/ops), ``CpuAdvance`` (the whole loop in
one nogil Cython call, wavecore/engine/_cpu/sampler.pyx) or the GPU's
(wavecore/engine/_gpu/sampler.py).

Both share one definition of what is generated:
- the history before the first sample is silence (the μ-law class of 0.0); a prime (audio or
  classes) is read after that silence, so an unprimed start is a start after silence;
- each step draws the next class from softmax(logits / T) by inverting the CDF (in float64)
  at a uniform u: the first class whose cumulative weight exceeds u · total; T = 0 is argmax;
- the uniforms are an input, (n, streams); by default stream b draws them from
  ``numpy.random.default_rng(SeedSequence(seed, spawn_key=(b,)))`` (or its own seed), so a
  seed fixes the output and a stream does not depend on the others in the batch.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..display import generation_html
from . import audio as _audio
from . import backends as _backend
from .advance import draw  # noqa: F401  (wavecore.engine.sampler.draw, as before)
from .model import WaveNet


@dataclass
class Generation:
    """What a sampler returns: classes (B, n) and the decoded audio (B, n) float32. In Jupyter
    it shows one player per stream (wavecore.display)."""
    classes: np.ndarray
    sample_rate: int
    n_classes: int
    logits: np.ndarray | None = None        # (n, B, A) when asked for (tests)
    temperatures: tuple | None = None       # per stream
    seeds: tuple | None = None              # per stream (None: uniforms were given)

    def _repr_html_(self) -> str:
        return generation_html(self)

    @functools.cached_property
    def audio(self) -> np.ndarray:
        """The classes decoded (once) to float32 audio: (B, n)."""
        return _audio.mu_law_decode(self.classes, self.n_classes)

    def save(self, path, stream: int = 0) -> None:
        """Write one stream as a 16-bit WAV (atomically)."""
        _audio.save(path, self.audio[stream], self.sample_rate)


class _Sampler:
    def __init__(self, net: WaveNet, params: np.ndarray):
        if params.shape != (net.size,):
            raise ValueError(f"params have shape {params.shape}, the model needs ({net.size},)")
        self.net = net
        self.config = net.config
        self.params = params                       # params: (size,), where the sampler runs
        self.silence = _audio.silence_class(self.config.classes)

    # -- inputs ---------------------------------------------------------------
    def _streams(self, value, B, name):
        if isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) == 1:
            value = list(value)
            if len(value) != B:
                raise ValueError(f"{name}: {len(value)} values given for {B} streams")
            return list(value)
        return [value] * B

    def _prime(self, prime, prime_rate, prime_classes):
        """-> list of per-stream int64 class arrays (may be empty)."""
        cfg = self.config
        if prime is not None and prime_classes is not None:
            raise ValueError("give prime (audio) or prime_classes, not both")
        if prime_classes is not None:
            c = np.asarray(prime_classes)
            if (not np.issubdtype(c.dtype, np.integer)
                    or c.size and (c.min() < 0 or c.max() >= cfg.classes)):
                raise ValueError(f"prime_classes must be ints in [0, {cfg.classes})")
            return c.astype(np.int64)
        if prime is None:
            return None
        if isinstance(prime, (str, os.PathLike)):
            return _audio.mu_law_encode(_audio.load(prime, cfg.sample_rate), cfg.classes)
        rate = cfg.sample_rate if prime_rate is None else prime_rate
        if rate != cfg.sample_rate:
            raise _audio.AudioError(f"prime is at {rate} Hz but the model runs at "
                                    f"{cfg.sample_rate} Hz; resample it first "
                                    f"(wavecore.load(path, {cfg.sample_rate}))")
        a = _audio.check_audio(prime, "prime")
        return _audio.mu_law_encode(a, cfg.classes)

    def _prepare(self, n, streams, temperature, prime, prime_rate, prime_classes, seed,
                 uniforms, gc):
        cfg = self.config
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"number of samples to generate must be a positive int, got {n!r}")
        if isinstance(prime, list) or (isinstance(prime_classes, list) and prime_classes
                                       and np.ndim(prime_classes[0]) == 1):
            many = prime if prime is not None else prime_classes
            B = len(many)
            if streams not in (1, B):
                raise ValueError(f"{B} primes given for streams={streams}")
            primes = [self._prime(p, prime_rate, None) if prime is not None
                      else self._prime(None, None, p) for p in many]
        else:
            B = int(streams)
            if B < 1:
                raise ValueError(f"streams must be >= 1, got {streams}")
            primes = [self._prime(prime, prime_rate, prime_classes)] * B
        temps = np.array([float(t) for t in self._streams(temperature, B, "temperature")])
        for t in temps:
            if not np.isfinite(t) or t < 0:
                raise ValueError(f"temperature must be 0 (argmax) or > 0, got {t}")
        longest = max((len(p) for p in primes if p is not None), default=0)
        hist = np.full((cfg.receptive_field + longest, B), self.silence, dtype=np.int64)
        for b, p in enumerate(primes):            # right-aligned: shorter primes see more silence
            if p is not None and len(p):
                hist[hist.shape[0] - len(p):, b] = p
        if uniforms is not None:
            U = np.asarray(uniforms, dtype=np.float64)
            if U.shape != (n, B):
                raise ValueError(f"uniforms must have shape ({n}, {B}), got {U.shape}")
            if not np.all((U >= 0) & (U < 1)):
                raise ValueError("uniforms must lie in [0, 1)")
        else:
            seeds = self._streams(seed, B, "seed")
            own = np.ndim(seed) == 1                 # one seed per stream, else spawned from one
            U = np.empty((n, B))
            for b, s in enumerate(seeds):
                ss = (np.random.SeedSequence(int(s)) if own
                      else np.random.SeedSequence(s, spawn_key=(b,)))
                U[:, b] = np.random.default_rng(ss).random(n)
        ids = None
        if cfg.gc_ids:
            if gc is None:
                raise ValueError(f"this model is conditioned on {cfg.gc_ids} ids: pass gc=")
            ids = np.array(self._streams(gc, B, "gc"), dtype=np.int64)
            if ids.min() < 0 or ids.max() >= cfg.gc_ids:
                raise ValueError(f"unknown conditioning id {ids.tolist()}: "
                                 f"ids are 0..{cfg.gc_ids - 1}")
        elif gc is not None:
            raise ValueError("this model has no global conditioning (gc_ids=0) but gc was given")
        return B, hist, temps, U, ids

    def generate(self, n_samples: int | None = None, *, seconds: float | None = None,
                 streams: int = 1, temperature: float | Sequence[float] = 1.0, prime=None,
                 prime_rate: int | None = None, prime_classes=None, seed=0, uniforms=None,
                 gc=None, progress: Callable[[int, int], None] | None = None,
                 return_logits: bool = False) -> Generation:
        """Generate ``n_samples`` (or ``seconds``) for ``streams`` streams.

        prime: audio (array at the model's rate, or a path) or a list of them, one per stream;
        prime_classes: μ-law classes instead; temperature, seed, gc: one value or one per
        stream; uniforms: (n, streams) in [0, 1) replaces the seeds; progress(done, total)."""
        if seconds is not None:
            if n_samples is not None:
                raise ValueError("give n_samples or seconds, not both")
            n_samples = int(round(seconds * self.config.sample_rate))
        B, hist, temps, U, ids = self._prepare(n_samples, streams, temperature, prime, prime_rate,
                                               prime_classes, seed, uniforms, gc)
        classes, logits = self._run(hist, temps, U, ids, progress, return_logits)
        seeds = (None if uniforms is not None
                 else tuple(int(x) for x in self._streams(seed, B, "seed")))
        return Generation(classes, self.config.sample_rate, self.config.classes, logits,
                          tuple(float(t) for t in temps), seeds)


class NaiveSampler(_Sampler):
    """The reference: every step runs the model (NumPy path) over the last RF samples."""

    def __init__(self, net: WaveNet, params: np.ndarray):
        super().__init__(net, np.ascontiguousarray(net.backend.to_host(params), dtype=net.dtype))
        self.ref = WaveNet(net.config, net.dtype, backend="numpy")

    def _run(self, hist, temps, U, ids, progress, return_logits):
        RF, (n, B) = self.config.receptive_field, U.shape
        seq = np.concatenate([hist, np.zeros((n, B), np.int64)])
        k = hist.shape[0]
        out_logits = (np.empty((n, B, self.config.classes), self.net.dtype) if return_logits
                      else None)
        for s in range(n):
            lg = self.ref.logits(self.params, seq[k + s - RF:k + s], ids)[-1]    # (B, A)
            if out_logits is not None:
                out_logits[s] = lg
            for b in range(B):
                seq[k + s, b] = draw(lg[b], temps[b], U[s, b])
            if progress:
                progress(s + 1, n)
        return np.ascontiguousarray(seq[k:].T), out_logits


def _queue(state, l, d, B, R):
    """Layer l's queue in a stream state: a view (d, B, R)."""
    o = int(state.q_off[l])
    return state.queues[o:o + d * B * R].reshape(d, B, R)


class CachedSampler(_Sampler):
    """The fast WaveNet algorithm, one driver for every backend: it owns the stream state's
    setup, priming, the uniforms, chunking, progress and the Generation; the backend object
    (wavecore.engine.backends) supplies only "advance k steps": ``NumpyAdvance`` (the reference,
    built from wavecore/ops), ``CpuAdvance`` (one nogil Cython call,
    wavecore/engine/_cpu/sampler.pyx) or the GPU's (one kernel launch per chunk,
    wavecore/engine/_gpu/sampler.py).

    backend: "auto" (the model's GPU when it runs there, else cpu where built, else numpy),
    "cpu", "gpu", "numpy" or a backend object; threads split the streams on the CPU."""

    chunk = 8192                             # steps per advance between progress reports

    def __init__(self, net: WaveNet, params, backend="auto", threads: int | None = None,
                 streams_per_block: int | None = None, gpu_kernel: str = "auto"):
        """streams_per_block (GPU): streams one thread block serves; by default enough blocks
        to fill the multiprocessors, then up to 8 streams sharing each weight read.
        gpu_kernel: "block" (a thread block runs whole streams), "cluster" (8 blocks share one
        stream; compute capability 9.0+) or "auto" (= "block" until "cluster" is measured)."""
        self.backend = _backend.for_sampler(net, backend, threads)
        params = self.backend.to_device(params, net.dtype)   # no copy when it lives there
        super().__init__(net, params)
        self.core = self.backend.sampler(net, params, streams_per_block=streams_per_block,
                                         gpu_kernel=gpu_kernel)
        # the same net with every dilation 1: it reaches the silent state in n_layers steps
        ones = dataclasses.replace(self.config, dilations_override=(1,) * self.config.n_layers)
        flat = WaveNet(ones, net.dtype, backend=self.backend, precision=net.precision)
        self.quiet = self.backend.sampler(flat, params, streams_per_block=streams_per_block,
                                          gpu_kernel=gpu_kernel)

    def silent_start(self, B, gcb):
        """The state of B streams after a silence longer than the receptive field, in the
        backend's own arithmetic. A silent history is constant in time, so every layer reads the
        same value at t - d as at t: that state does not depend on the dilations. The net with
        every dilation 1 reaches it in n_layers forced steps, and each layer's one queued value
        fills the whole queue of the net's layer: bit for bit what RF - 1 silent steps leave."""
        cfg, R = self.config, self.config.residual_channels
        state, quiet = self.core.start(B, gcb), self.quiet.start(B, gcb)
        self.quiet.advance(quiet, forced=np.full((cfg.n_layers, B), self.silence, np.int64))
        for l, d in enumerate(cfg.dilations):     # queue l: (d, B, R) <- its silent input
            _queue(state, l, d, B, R)[...] = _queue(quiet, l, 1, B, R)
        return state

    def primed(self, hist, ids, gcb):
        """The state after each stream's history hist: (RF + P, B), its first RF - 1 steps
        silence. Streams with the same history and conditioning id are primed once and their
        state copied. In the compiled loops a stream's arithmetic does not depend on the others
        in its batch, so the copy is bit for bit the state it would have reached alone (NumPy's
        matrix products round by batch size: there to about 1e-13)."""
        B, xp = hist.shape[1], self.backend.xp
        first, reps, which = {}, [], np.empty(B, np.intp)      # reps: one stream per history
        for b in range(B):
            key = (hist[:, b].tobytes(), None if ids is None else int(ids[b]))
            if key not in first:
                first[key] = len(reps)
                reps.append(b)
            which[b] = first[key]
        reps = np.array(reps)
        small = self.silent_start(len(reps), None if gcb is None else
                                  xp.ascontiguousarray(gcb[:, xp.asarray(reps)]))
        self.core.advance(small, forced=hist[self.config.receptive_field - 1:-1, reps])  # no head
        if len(reps) == B:
            state = small
        else:
            state, R = self.core.start(B, gcb), self.config.residual_channels
            w, U = xp.asarray(which), len(reps)
            for l, d in enumerate(self.config.dilations):   # queue l: (d, B, R) <- (d, U, R)
                _queue(state, l, d, B, R)[...] = _queue(small, l, d, U, R)[:, w]
            state.x_prev[...], state.t = small.x_prev[w], small.t
        self.core.set_current(state, hist[-1])
        return state

    def _run(self, hist, temps, U, ids, progress, return_logits):
        cfg, (n, B) = self.config, U.shape
        gcb = None
        if ids is not None:               # per-stream bias gcb: (L, B, 2D), where params live
            v, xp = self.net.views(self.params), self.backend.xp
            gcb = xp.ascontiguousarray(xp.einsum("bg,lgk->lbk", v["gc.embed"][xp.asarray(ids)],
                                                 v["layers.V"]))
        out = np.empty((n, B), np.int64)
        logits = np.empty((n, B, cfg.classes), self.net.dtype) if return_logits else None
        state = self.primed(hist, ids, gcb)
        for s0 in range(0, n, self.chunk):
            s1 = min(n, s0 + self.chunk)
            self.core.advance(state, U=U[s0:s1], temps=temps, out=out[s0:s1],
                              logits=None if logits is None else logits[s0:s1])
            if progress:
                progress(s1, n)
        return np.ascontiguousarray(out.T), logits
