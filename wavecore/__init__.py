"""wavecore: a WaveNet engine written from scratch.

NumPy reference ops with hand-written backprop (``wavecore.ops``), compiled CPU
kernels (``wavecore._cpu``), audio I/O and μ-law (``wavecore.audio``), the model
(``WaveNet``), Adam, and gradient checks (``wavecore.testing``); the study
(``wavecore.study``: its settings, presets, activities, record, plan, report and compare), its
curricula (``wavecore.curriculum``), measures (``wavecore.measures``) and the HTML objects show
in Jupyter (``wavecore.display``) load on first use; ``wavecore.presets``, ``wavecore.plan``,
``wavecore.report`` and ``wavecore.compare`` name the study's modules.
"""
import importlib

from .audio import AudioError, load, mu_law_decode, mu_law_encode, save, trim_silence
from .backend import BackendError
from .config import ConfigError, WaveNetConfig
from .model import Batch, WaveNet
from .optim import Adam

__version__ = "0.1.0"

__all__ = ["Adam", "AudioError", "BackendError", "Batch", "ConfigError", "WaveNet",
           "WaveNetConfig", "load", "mu_law_decode", "mu_law_encode", "save", "trim_silence",
           "__version__"]


_LAZY = {"study": ".study", "presets": ".study.presets", "plan": ".study.plan",
         "report": ".study.report", "compare": ".study.compare", "measures": ".measures",
         "sampler": ".sampler", "train": ".train", "curriculum": ".curriculum", "display": ".display",
         "clips": ".clips", "precision": ".precision"}


def __getattr__(name):                       # wavecore.presets etc. without importing them here
    if name in _LAZY:
        return importlib.import_module(_LAZY[name], __name__)
    raise AttributeError(f"module 'wavecore' has no attribute {name!r}")
