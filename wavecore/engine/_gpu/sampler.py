"""The cached sampler on the GPU: kernels/sampler.cu runs the whole generation loop in one
launch per chunk of steps; each block owns up to 8 streams and all their steps. Called by
``CachedSampler(backend="gpu")``; the NumPy reference of the same algorithm is
``wavecore.engine.sampler.NumpyAdvance``."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import layout
from ..audio import silence_class

MAX_STREAMS = 8                   # WC_MAX_STREAMS in sampler.cu
CLUSTER = 8                       # WC_CLUSTER in sampler.cu: blocks per stream in sampler_cluster


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

    def __init__(self, net, params, dev, streams_per_block: int | None = None,
                 kernel: str = "auto"):
        """params: on the device. kernel: "block" (sampler_run: a block runs 1-8 whole streams)
        or "cluster" (sampler_cluster: a cluster of 8 blocks runs one stream; compute
        capability 9.0+). "auto" is "block" until the cluster kernel has been measured on a GPU."""
        if streams_per_block is not None and not 1 <= streams_per_block <= MAX_STREAMS:
            raise ValueError(f"streams_per_block must be in 1..{MAX_STREAMS}, "
                             f"got {streams_per_block}")
        if kernel not in ("auto", "block", "cluster"):
            raise ValueError(f"kernel must be auto, block or cluster, got {kernel!r}")
        self.fixed_ns, self.kernel = streams_per_block, kernel
        self.dev = dev
        self.net, self.cfg = net, net.config
        xp = self.dev.xp
        self.P = params
        self.off = xp.asarray(layout.offset_table(self.cfg))
        v = net.views(params)
        self.bsum = xp.ascontiguousarray(v["skip.b"].sum(axis=0))      # bsum: (S,)
        self.dil = xp.asarray(np.array(self.cfg.dilations, np.int32))
        self.threads = 256 if self.dev.name == "cuda" else 64
        self.silence = silence_class(self.cfg.classes)

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
            raise ValueError("kernel='cluster' needs thread-block clusters "
                             "(compute capability 9.0+)")
        need = cluster_bytes(self.cfg, self.net.dtype.itemsize, self.threads)
        if need > self.dev.max_shared:
            raise ValueError(f"kernel='cluster': a block needs {need} bytes of shared memory, the "
                             f"device has {self.dev.max_shared}")
        return True

    def start(self, B, gcb):
        """The state of B silent streams on the device; gcb: (L, B, 2D) host or None."""
        xp, cfg, net = self.dev.xp, self.cfg, self.net
        sizes = [d * B * cfg.residual_channels for d in cfg.dilations]
        silence = np.full(B, self.silence, np.int64)
        cluster = self.uses_cluster(B)
        if cluster:
            ns, blocks, sh = 1, B * CLUSTER, cluster_bytes(cfg, net.dtype.itemsize, self.threads)
        else:
            ns = self.streams_per_block(B)
            blocks, sh = -(-B // ns), self.shared(ns)
        return _State(queues=xp.zeros(sum(sizes), net.dtype),          # per layer: (d, B, R)
                      q_off=xp.asarray(np.concatenate([[0], np.cumsum(sizes)[:-1]])
                                       .astype(np.int64)),
                      x_prev=xp.asarray(silence), x_cur=xp.asarray(silence.copy()),
                      gcb=None if gcb is None else xp.ascontiguousarray(xp.asarray(gcb), net.dtype),
                      B=B, cluster=cluster, ns=ns, blocks=blocks, shared=sh)

    def set_current(self, st, x) -> None:
        st.x_cur[...] = self.dev.xp.asarray(np.ascontiguousarray(x, np.int64))

    def advance(self, st, forced=None, U=None, temps=None, out=None, logits=None):
        """k steps in one launch: forced (k, B) classes read with no output head (priming), or
        uniforms U (k, B) drawing into out (k, B) and logits (k, B, A) on the host."""
        dev, xp, cfg, net = self.dev, self.dev.xp, self.cfg, self.net
        k = forced.shape[0] if forced is not None else U.shape[0]
        if k == 0:
            return
        L, R, D, S, A = (cfg.n_layers, cfg.residual_channels, cfg.dilation_channels,
                         cfg.skip_channels, cfg.classes)
        dummy_r, dummy_i, dummy_d = dev.dummy(net.dtype), dev.dummy(np.int64), dev.dummy(np.float64)
        forced_d = (xp.asarray(np.ascontiguousarray(forced, np.int64)) if forced is not None
                    else None)
        U_d = xp.asarray(np.ascontiguousarray(U, np.float64)) if U is not None else None
        temps_d = xp.asarray(np.ascontiguousarray(temps if temps is not None else np.ones(st.B)))
        out_d = xp.empty((k, st.B), np.int64) if forced is None else None
        lg_d = xp.empty((k, st.B, A), net.dtype) if logits is not None else None
        kern = dev.kernel("sampler_cluster" if st.cluster else "sampler_run", net.dtype)
        kern(st.blocks, self.threads, self.P, self.off, self.bsum, self.dil, st.q_off, st.queues,
             st.x_prev, st.x_cur,
             forced_d if forced_d is not None else dummy_i, int(forced_d is not None),
             U_d if U_d is not None else dummy_d, temps_d, out_d if out_d is not None else dummy_i,
             lg_d if lg_d is not None else dummy_r, int(lg_d is not None),
             st.gcb if st.gcb is not None else dummy_r, int(st.gcb is not None),
             st.t, k, st.B, L, R, D, S, A, *(() if st.cluster else (st.ns,)),
             shared_mem=st.shared, cluster=CLUSTER if st.cluster else 1)
        st.t += k
        if out_d is not None:
            out[...] = dev.to_host(out_d)
        if lg_d is not None:
            logits[...] = dev.to_host(lg_d)


@dataclass
class _State:
    """B streams' state on the device and how they are launched."""
    queues: object              # per layer l: (d_l, B, R) at q_off[l]
    q_off: object               # (L,) int64
    x_prev: object              # (B,) int64
    x_cur: object               # (B,) int64
    gcb: object                 # (L, B, 2D) or None
    B: int
    cluster: bool
    ns: int                     # streams per block (block kernel)
    blocks: int
    shared: int                 # dynamic shared memory per block, bytes
    t: int = 0
