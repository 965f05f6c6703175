"""The cached sampler on the GPU: kernels/sampler.cu runs the whole generation loop in one
launch per chunk of steps; each block owns up to 8 streams and all their steps. Called by
``CachedSampler(backend="gpu")``; the NumPy reference of the same algorithm is
``CachedSampler._step_numpy``."""
from __future__ import annotations

import numpy as np

from . import device as _device

MAX_STREAMS = 8                   # WC_MAX_STREAMS in sampler.cu
CLUSTER = 8                       # WC_CLUSTER in sampler.cu: blocks per stream in sampler_cluster
_ORDER = ("input.E", "input.b", "layers.W", "layers.c", "layers.Wr", "layers.br", "skip.W",
          "out.W1", "out.b1", "out.W2", "out.b2")    # the O_* offsets of sampler.cu


def shared_bytes(cfg, ns: int, itemsize: int, threads: int) -> int:
    """Dynamic shared memory of one block of ns streams (the layout at the top of sampler.cu)."""
    R, D, S, A = cfg.residual_channels, cfg.dilation_channels, cfg.skip_channels, cfg.classes
    P = max(1, threads // D)
    return ns * A * 8 + ns * (2 * R + D + 2 * S + A + P * 2 * D) * itemsize


def cluster_bytes(cfg, itemsize: int, threads: int) -> int:
    """Dynamic shared memory of one block of sampler_cluster (the layout in sampler.cu)."""
    R, D, S, A = cfg.residual_channels, cfg.dilation_channels, cfg.skip_channels, cfg.classes
    Dc = -(-D // CLUSTER)
    return 16 + A * 8 + (2 * R + 2 * D + 3 * S + A + min(2 * R, threads) * Dc * 2) * itemsize


class GpuSampler:
    """Device copies of one model's parameters and a generation state per call."""

    def __init__(self, net, params, dev=None, streams_per_block: int | None = None,
                 kernel: str = "auto"):
        """kernel: "block" (sampler_run: a block runs 1-8 whole streams) or "cluster"
        (sampler_cluster: a cluster of 8 blocks runs one stream; compute capability 9.0+).
        "auto" is "block" until the cluster kernel has been measured on a GPU."""
        if streams_per_block is not None and not 1 <= streams_per_block <= MAX_STREAMS:
            raise ValueError(f"streams_per_block must be in 1..{MAX_STREAMS}, got {streams_per_block}")
        if kernel not in ("auto", "block", "cluster"):
            raise ValueError(f"kernel must be auto, block or cluster, got {kernel!r}")
        self.fixed_ns, self.kernel = streams_per_block, kernel
        self.dev = dev or _device.get()
        self.net, self.cfg = net, net.config
        xp = self.dev.xp
        self.P = xp.asarray(np.ascontiguousarray(params, dtype=net.dtype))
        self.off = xp.asarray(np.array([net.offsets[k][0] for k in _ORDER], np.int64))
        v = net.views(params)
        self.bsum = xp.asarray(np.ascontiguousarray(v["skip.b"].sum(axis=0), dtype=net.dtype))
        self.dil = xp.asarray(np.array(self.cfg.dilations, np.int32))
        self.threads = 256 if self.dev.name == "cuda" else 64

    def streams_per_block(self, B: int) -> int:
        """Fill the multiprocessors first, then share weight reads among up to 8 streams, as
        many as the block's shared memory holds."""
        ns = self.fixed_ns or int(min(MAX_STREAMS, max(1, -(-B // self.dev.sm_count))))
        ns = min(ns, B)
        while ns > 1 and self.shared(ns) > self.dev.max_shared:
            ns -= 1
        if self.shared(ns) > self.dev.max_shared:
            raise ValueError(f"this model's sampler needs {self.shared(ns)} bytes of shared memory "
                             f"per block; the device has {self.dev.max_shared}")
        return ns

    def shared(self, ns: int) -> int:
        return shared_bytes(self.cfg, ns, self.net.dtype.itemsize, self.threads)

    def uses_cluster(self, B: int) -> bool:
        """Whether B streams run on sampler_cluster."""
        if self.kernel != "cluster":
            return False
        if not self.dev.clusters:
            raise ValueError("kernel='cluster' needs thread-block clusters (compute capability 9.0+)")
        need = cluster_bytes(self.cfg, self.net.dtype.itemsize, self.threads)
        if need > self.dev.max_shared:
            raise ValueError(f"kernel='cluster': a block needs {need} bytes of shared memory, the "
                             f"device has {self.dev.max_shared}")
        return True

    def run(self, hist, temps, U, gcb, chunk, progress, return_logits):
        """hist: (H, B) classes read first (H >= 1; the last one is the first step's input);
        U: (n, B) uniforms -> (classes (n, B), logits (n, B, A) | None), both on the host."""
        dev, xp, cfg, net = self.dev, self.dev.xp, self.cfg, self.net
        (n, B), R = U.shape, cfg.residual_channels
        sizes = [d * B * R for d in cfg.dilations]
        queues = xp.zeros(sum(sizes), net.dtype)                      # per layer: (d, B, R)
        qoff = xp.asarray(np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64))
        x_prev = xp.asarray(np.array(hist[0], np.int64))            # history starts silent
        x_cur = xp.asarray(np.array(hist[0], np.int64))              # (copies: both are written)
        gcb_d = xp.asarray(np.ascontiguousarray(gcb, net.dtype)) if gcb is not None else None
        temps_d = xp.asarray(np.ascontiguousarray(temps, np.float64))
        cluster = self.uses_cluster(B)
        if cluster:
            ns, blocks, sh = 1, B * CLUSTER, cluster_bytes(cfg, net.dtype.itemsize, self.threads)
            kern = dev.kernel("sampler_cluster", net.dtype)
        else:
            ns = self.streams_per_block(B)
            blocks, sh = -(-B // ns), self.shared(ns)
            kern = dev.kernel("sampler_run", net.dtype)
        tail = () if cluster else (ns,)
        dummy_r, dummy_i, dummy_d = dev.dummy(net.dtype), dev.dummy(np.int64), dev.dummy(np.float64)
        L, D, S, A = cfg.n_layers, cfg.dilation_channels, cfg.skip_channels, cfg.classes

        def launch(t0, steps, forced, U_d, out_d, logits_d):
            kern(blocks, self.threads, self.P, self.off, self.bsum, self.dil, qoff, queues, x_prev, x_cur,
                 forced if forced is not None else dummy_i, int(forced is not None),
                 U_d if U_d is not None else dummy_d, temps_d,
                 out_d if out_d is not None else dummy_i,
                 logits_d if logits_d is not None else dummy_r, int(logits_d is not None),
                 gcb_d if gcb_d is not None else dummy_r, int(gcb_d is not None),
                 t0, steps, B, L, R, D, S, A, *tail, shared_mem=sh,
                 cluster=CLUSTER if cluster else 1)

        if hist.shape[0] > 1:                                         # prime: read, no head
            launch(0, hist.shape[0] - 1, xp.asarray(np.ascontiguousarray(hist[:-1], np.int64)),
                   None, None, None)
        x_cur[...] = xp.asarray(np.ascontiguousarray(hist[-1], np.int64))
        t = hist.shape[0] - 1
        out = np.empty((n, B), np.int64)
        logits = np.empty((n, B, A), net.dtype) if return_logits else None
        for s0 in range(0, n, chunk):
            s1 = min(n, s0 + chunk)
            out_d = xp.empty((s1 - s0, B), np.int64)
            lg_d = xp.empty((s1 - s0, B, A), net.dtype) if return_logits else None
            launch(t, s1 - s0, None, xp.asarray(np.ascontiguousarray(U[s0:s1])), out_d, lg_d)
            t += s1 - s0
            out[s0:s1] = dev.to_host(out_d)
            if logits is not None:
                logits[s0:s1] = dev.to_host(lg_d)
            if progress:
                progress(s1, n)
        return out, logits
