# The parameter blocks' indices in the offset table (wavecore.engine.layout.offset_table), from
# layout.h, which setup.py generates from wavecore/engine/layout.py.
cdef extern from "layout.h" nogil:
    enum:
        WC_INPUT_E
        WC_INPUT_B
        WC_LAYERS_W
        WC_LAYERS_C
        WC_LAYERS_WR
        WC_LAYERS_BR
        WC_SKIP_W
        WC_SKIP_B
        WC_GC_EMBED
        WC_LAYERS_V
        WC_OUT_W1
        WC_OUT_B1
        WC_OUT_W2
        WC_OUT_B2
        WC_NBLOCKS


cdef inline dict layout_indices():
    """Block name -> the index this module was compiled with (checked against wavecore.engine.layout)."""
    return {"input.E": WC_INPUT_E, "input.b": WC_INPUT_B, "layers.W": WC_LAYERS_W,
            "layers.c": WC_LAYERS_C, "layers.Wr": WC_LAYERS_WR, "layers.br": WC_LAYERS_BR,
            "skip.W": WC_SKIP_W, "skip.b": WC_SKIP_B, "gc.embed": WC_GC_EMBED,
            "layers.V": WC_LAYERS_V, "out.W1": WC_OUT_W1, "out.b1": WC_OUT_B1,
            "out.W2": WC_OUT_W2, "out.b2": WC_OUT_B2, "": WC_NBLOCKS}
