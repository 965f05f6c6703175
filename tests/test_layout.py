"""The parameter layout is named once (wavecore/engine/layout.py): every kernel's idea of it must be
the one param_layout gives."""
import re
from pathlib import Path

import numpy as np
import pytest

from wavecore import WaveNet, WaveNetConfig
from wavecore.engine import layout
from wavecore.engine._gpu import device as gdev
from wavecore.engine.backends import cpu_kernel

ROOT = Path(layout.__file__).parent
WANT = {name: i for i, name in enumerate(layout.NAMES)}


def test_offsets_follow_param_layout():
    for gc_ids in (0, 3):
        cfg = WaveNetConfig(layers=3, stacks=2, residual_channels=4, dilation_channels=5,
                            skip_channels=6, classes=7, gc_ids=gc_ids, gc_channels=2)
        table, n = layout.offset_table(cfg), 0
        for name, shape in layout.param_layout(cfg):
            assert table[WANT[name]] == n, name
            n += int(np.prod(shape))
        assert n == layout.size(cfg) == WaveNet(cfg, backend="numpy").size
        absent = {"gc.embed", "layers.V"} if not gc_ids else set()
        assert {name for name in layout.NAMES if table[WANT[name]] < 0} == absent


@pytest.mark.parametrize("stem", ["model", "sampler"])
def test_compiled_kernels_were_built_with_this_layout(stem):
    module = cpu_kernel(stem)
    if module is None:
        pytest.skip("the compiled kernels are not built")
    got = module.layout()
    assert got.pop("") == len(layout.NAMES)
    assert got == WANT, (f"wavecore.engine._cpu.{stem} was built with another layout: "
                         "rebuild (pip install .)")


def test_gpu_sources_get_this_layout():
    """The enum comes first in the compiled source, and every block a kernel names is one of it."""
    src = gdev.source()
    enum = re.search(r"enum \{(.*?)\};", src, re.S)
    assert enum.start() < src.index("#line 1")
    got = {c: int(v) for c, v in re.findall(r"(WC_\w+) = (\d+)", enum.group(1))}
    assert got.pop("WC_NBLOCKS") == len(layout.NAMES)
    assert got == {layout.CONSTANTS[name]: i for name, i in WANT.items()}
    used = set(re.findall(r"\boff\[(\w+)\]", src[enum.end():]))
    assert used and used <= set(got), used - set(got)


def test_no_kernel_keeps_a_layout_of_its_own():
    """Kernels index the offset table only with the generated WC_* constants."""
    sources = list((ROOT / "_cpu").glob("*.pyx")) + list((ROOT / "_gpu" / "kernels").glob("*.cu"))
    assert sources
    for src in sources:
        text = src.read_text()
        assert not re.search(r"(?<!&)\boff\[\s*\d", text), \
            f"{src.name} indexes the offset table by number"
        assert not re.search(r"offsets\[\"", text), f"{src.name} looks blocks up by name"
