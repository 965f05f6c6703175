"""The cached sampler's "advance k steps" on the host: ``NumpyAdvance`` (the reference of the
compiled loops, built from wavecore/ops) and ``CpuAdvance`` (the whole loop in one nogil
Cython call, wavecore/engine/_cpu/sampler.pyx). The backend object hands one to the sampler's driver
(wavecore/engine/sampler.py); the GPU's is wavecore/engine/_gpu/sampler.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .audio import silence_class
from .kernels import cpu_kernel
from .ops import (
    bf16,
    dilated_conv_forward,
    gate_forward,
    input_conv_forward,
    output_head_forward,
    residual_skip_forward,
)


def draw(logits: np.ndarray, temperature: float, u: float) -> int:
    """One class from softmax(logits / T) at uniform u (the rule both samplers use)."""
    if temperature == 0:
        return int(np.argmax(logits))
    lg = np.asarray(logits, dtype=np.float64)
    e = np.exp((lg - lg.max()) / temperature)
    cum = np.cumsum(e)
    j = int(np.searchsorted(cum, u * cum[-1], side="right"))
    return j if j < len(e) else int(np.flatnonzero(e > 0)[-1])


@dataclass
class StreamState:
    """The cached algorithm's state of B streams after t steps, on the host."""
    queues: np.ndarray          # per layer l: (d_l, B, R) at q_off[l]; slot t mod d holds h[t-d]
    q_off: np.ndarray           # (L,)
    x_prev: np.ndarray          # (B,) the class before the current one
    x_cur: np.ndarray           # (B,) the class the next step reads
    gcb: np.ndarray | None      # (L, B, 2D) conditioning bias, or None
    t: int = 0

    @classmethod
    def new(cls, net, B, gcb, silence):
        sizes = [d * B * net.config.residual_channels for d in net.config.dilations]
        return cls(np.zeros(sum(sizes), net.dtype),
                   np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp),
                   np.full(B, silence, np.int64), np.full(B, silence, np.int64), gcb)


class _HostAdvance:
    def __init__(self, net, params):
        self.net, self.params = net, params
        self.silence = silence_class(net.config.classes)

    def start(self, B, gcb) -> StreamState:
        return StreamState.new(self.net, B, gcb, self.silence)

    def set_current(self, st, x) -> None:
        st.x_cur[:] = x


class NumpyAdvance(_HostAdvance):
    """The cached algorithm in NumPy from the reference ops (wavecore/ops), step for step what
    the compiled loops do: per layer the dilated conv reads the rows [h[t-d]; h[t]]. A bf16
    net rounds every product's operands to bf16 (wavecore.engine.ops.bf16), as its step does; the
    state stays in the params' dtype."""

    def advance(self, st, forced=None, U=None, temps=None, out=None, logits=None):
        with bf16.rounding(self.net.precision == "bf16"):
            self._advance(st, forced, U, temps, out, logits)

    def _advance(self, st, forced, U, temps, out, logits):
        cfg, v = self.net.config, self.net.views(self.params)
        R, L, B = cfg.residual_channels, cfg.n_layers, st.x_prev.shape[0]
        queues = [st.queues[o:o + d * B * R].reshape(d, B, R)
                  for o, d in zip(st.q_off, cfg.dilations)]
        n = forced.shape[0] if forced is not None else U.shape[0]
        for s in range(n):
            t = st.t + s
            if forced is not None:
                st.x_cur[:] = forced[s]
            x2 = np.stack([st.x_prev, st.x_cur])                              # x2: (2, B)
            h, _ = input_conv_forward(x2, v["input.E"], v["input.b"])         # h: (1, B, R)
            skip = 0
            for l, d in enumerate(cfg.dilations):
                last = l == L - 1
                pair = np.concatenate([queues[l][t % d][None], h])  # [h[t-d]; h[t]]: (2, B, R)
                # fg: (1, B, 2D)
                fg, _ = dilated_conv_forward(pair, v["layers.W"][l], v["layers.c"][l], 1)
                if st.gcb is not None:
                    fg = fg + st.gcb[l]
                z, _ = gate_forward(fg)                                       # z: (1, B, D)
                queues[l][t % d] = h[0]
                (h, sk), _ = residual_skip_forward(
                    pair, z, None if last else v["layers.Wr"][l],
                    None if last else v["layers.br"][l],
                    v["skip.W"][l], v["skip.b"][l], 1)                         # sk: (1, B, S)
                skip = skip + sk
            st.x_prev[:] = st.x_cur
            if forced is not None:
                continue
            lg, _ = output_head_forward(skip, v["out.W1"], v["out.b1"], v["out.W2"], v["out.b2"])
            lg = lg[0]                                                        # lg: (B, A)
            if logits is not None:
                logits[s] = lg
            for b in range(B):
                out[s, b] = draw(lg[b], temps[b], U[s, b])
            st.x_cur[:] = out[s]
        st.t += n


class CpuAdvance(_HostAdvance):
    """k steps of every stream in one nogil call of wavecore/engine/_cpu/sampler.pyx."""

    def __init__(self, net, params, threads):
        super().__init__(net, params)
        self.threads = threads
        # a bf16 net: every weight read in bf16, packed once (half the bytes a step streams)
        self.packed = cpu_kernel("sampler").pack_bf16(net.config, net.offset_table, params) \
            if net.precision == "bf16" else None

    def advance(self, st, forced=None, U=None, temps=None, out=None, logits=None):
        n = forced.shape[0] if forced is not None else U.shape[0]
        B = st.x_prev.shape[0]
        cpu_kernel("sampler").run(
            self.net.config, self.net.offset_table, self.params, st.queues, st.q_off, st.t,
            st.x_prev, st.x_cur, None if forced is None else np.ascontiguousarray(forced, np.int64),
            None if U is None else np.ascontiguousarray(U),
            np.ones(B) if temps is None else np.ascontiguousarray(temps, np.float64),
            out, logits, st.gcb, self.threads, self.packed)
        st.t += n
