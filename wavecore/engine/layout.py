"""The flat parameter buffer's layout, named once for every path.

``BLOCKS`` lists the named blocks in storage order; ``param_layout(cfg)`` gives their shapes
(the NumPy reference reads them as views), and every compiled kernel finds a block through
``offset_table(cfg)``: its offsets in ``BLOCKS`` order, indexed by the C constants of
``c_header()`` (``WC_OUT_W1`` ...). The header is written into ``wavecore/engine/_cpu/layout.h``
when the Cython kernels are built (setup.py) and put in front of the CUDA sources when they are
compiled (wavecore/engine/_gpu/device.py). Adding a block changes this file and the enum and
``layout_indices()`` of ``wavecore/engine/_cpu/layout.pxd`` (tests/test_layout.py checks they
agree).

Standard library and NumPy only: setup.py runs this file to write the header.
"""
from __future__ import annotations

import numpy as np

# name, C constant; in storage order (a checkpoint's flat buffer has this order)
BLOCKS = (
    ("input.E", "WC_INPUT_E"),      # (2, A, R)   input conv: [E0; E1]
    ("input.b", "WC_INPUT_B"),      # (R,)
    ("layers.W", "WC_LAYERS_W"),    # (L, 2R, 2D) dilated convs, rows [past; current]
    ("layers.c", "WC_LAYERS_C"),    # (L, 2D)
    ("layers.Wr", "WC_LAYERS_WR"),  # (L-1, D, R) residual 1x1s (the last layer has none)
    ("layers.br", "WC_LAYERS_BR"),  # (L-1, R)
    ("skip.W", "WC_SKIP_W"),        # (L, D, S)   skip 1x1s, one (L*D, S) matrix
    ("skip.b", "WC_SKIP_B"),        # (L, S)
    ("gc.embed", "WC_GC_EMBED"),    # (ids, G)    conditioning embedding (gc_ids > 0 only)
    ("layers.V", "WC_LAYERS_V"),    # (L, G, 2D)  conditioning projections (gc_ids > 0 only)
    ("out.W1", "WC_OUT_W1"),        # (S, S)
    ("out.b1", "WC_OUT_B1"),        # (S,)
    ("out.W2", "WC_OUT_W2"),        # (S, A)
    ("out.b2", "WC_OUT_B2"),        # (A,)
)
NAMES = tuple(name for name, _ in BLOCKS)
CONSTANTS = {name: const for name, const in BLOCKS}


def _shapes(cfg) -> dict[str, tuple[int, ...]]:
    A, R, D, S, L = (cfg.classes, cfg.residual_channels, cfg.dilation_channels,
                     cfg.skip_channels, cfg.n_layers)
    G, ids = cfg.gc_channels, cfg.gc_ids
    return {"input.E": (2, A, R), "input.b": (R,), "layers.W": (L, 2 * R, 2 * D),
            "layers.c": (L, 2 * D), "layers.Wr": (L - 1, D, R), "layers.br": (L - 1, R),
            "skip.W": (L, D, S), "skip.b": (L, S),
            "gc.embed": (ids, G) if ids else None, "layers.V": (L, G, 2 * D) if ids else None,
            "out.W1": (S, S), "out.b1": (S,), "out.W2": (S, A), "out.b2": (A,)}


def param_layout(cfg) -> list[tuple[str, tuple[int, ...]]]:
    """Named blocks of the flat buffer, in order. Per-layer weights are stacked on axis 0
    (``layers.W[l]`` is layer l's W), so e.g. all skip weights form one (L*D, S) matrix.
    The conditioning blocks exist only when ``cfg.gc_ids > 0``."""
    shapes = _shapes(cfg)
    return [(name, shapes[name]) for name in NAMES if shapes[name] is not None]


def offsets(cfg) -> dict[str, tuple[int, tuple[int, ...]]]:
    """name -> (offset, shape) of every block present."""
    out, n = {}, 0
    for name, shape in param_layout(cfg):
        out[name] = (n, shape)
        n += int(np.prod(shape))
    return out


def size(cfg) -> int:
    return sum(int(np.prod(s)) for _, s in param_layout(cfg))


def offset_table(cfg) -> np.ndarray:
    """(len(BLOCKS),) int64: each block's offset, in BLOCKS order; -1 for an absent block.
    What every kernel indexes with the constants of ``c_header()``."""
    off = offsets(cfg)
    return np.array([off[name][0] if name in off else -1 for name in NAMES], dtype=np.int64)


def c_header() -> str:
    """The C constants of the blocks (an enum), for the Cython and CUDA kernels."""
    lines = [("// Generated from wavecore/engine/layout.py (BLOCKS): the index of each "
              "parameter block"),
             "// in the offset table the kernels receive (wavecore.engine.layout.offset_table).",
             "#ifndef WC_LAYOUT_H", "#define WC_LAYOUT_H", "enum {"]
    lines += [f"  {const} = {i},  // {name}" for i, (name, const) in enumerate(BLOCKS)]
    lines += [f"  WC_NBLOCKS = {len(BLOCKS)}", "};", "#endif", ""]
    return "\n".join(lines)


if __name__ == "__main__":          # setup.py: python wavecore/engine/layout.py OUT.h
    import sys
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.write(c_header())
