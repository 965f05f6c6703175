"""Teacher-forced scores: how well a network predicts a clip, sample by sample."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engine import audio as _audio
from ..engine.config import WaveNetConfig
from ..engine.model import Batch
from .settings import bits


@dataclass
class Score:
    """A clip scored teacher-forced. nll and hit hold the scored positions: the whole clip, or
    (scored on a few positions) blocks of ``block`` positions one after the other, block k
    starting at clip position ``starts[k]``."""
    bits: float                  # mean bits per sample
    accuracy: float              # top-1: the share of samples whose most likely class is right
    nll: np.ndarray              # (positions,) bits per position
    hit: np.ndarray              # (positions,) bool, top-1 hits
    starts: list                 # where each scored block begins
    block: int                   # positions per block


def eval_chunk(config: WaveNetConfig) -> int:
    """Positions per forward pass of an evaluation: at least 4096, and twice the receptive
    field, so that the RF samples read before them cost at most a third."""
    return max(4096, 2 * config.receptive_field)


def score(net, weights, classes: np.ndarray, ids: np.ndarray | None = None,
          chunk: int | None = None, positions: int | None = None) -> Score:
    """Teacher-forced NLL of ``net`` with ``weights`` over a clip's classes (after RF samples of
    silence). ids: (1,) the conditioning id, or None. chunk: positions per forward pass (default
    ``eval_chunk(config)``). positions: score only about this many fixed positions, in blocks
    of ``chunk`` spread evenly over the clip (a score whose cost does not grow with the clip)."""
    cfg = net.config
    RF, n = cfg.receptive_field, len(classes)
    chunk = chunk or eval_chunk(cfg)
    silence = _audio.silence_class(cfg.classes)
    pad = np.concatenate([np.full(RF, silence), classes])
    if positions is not None and positions < n:
        size = min(chunk, positions)
        starts = np.linspace(0, n - size, -(-positions // size)).astype(np.int64)
        x = np.stack([pad[s:s + RF + size] for s in starts], axis=1)      # x: (RF + size, blocks)
        _, nl, pr = net.evaluate(weights,
                                 Batch(x, None if ids is None else np.repeat(ids, len(starts))))
        tgt = np.stack([classes[s:s + size] for s in starts], axis=1)
        return Score(float(bits(nl.mean())), float((pr == tgt).mean()),
                     nl.T.reshape(-1) / math.log(2), (pr == tgt).T.reshape(-1),
                     starts.tolist(), size)
    chunk = min(chunk, n)
    tail = -n % chunk                 # pad the end too, so every chunk has one shape
    pad = np.concatenate([pad, np.full(tail, silence)])
    nll = np.empty(n + tail)          # nll, pred: (n + tail,)
    pred = np.empty(n + tail, np.int64)
    for k in range(0, n, chunk):
        _, nl, pr = net.evaluate(weights, Batch(pad[k:k + RF + chunk][:, None], ids))
        nll[k:k + chunk], pred[k:k + chunk] = nl[:, 0], pr[:, 0]
    nll, hit = nll[:n], pred[:n] == classes
    return Score(float(bits(nll.mean())), int(hit.sum()) / n, nll / math.log(2), hit, [0], n)
