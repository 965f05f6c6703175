"""wavecore: a WaveNet engine written from scratch, and a study of how it learns and forgets.

The house, bottom up (each wing imports only the ones before it in this list):

- ``wavecore.pages``: the templates and the stylesheet of every page (it imports nothing else);
- ``wavecore.engine``: the model (``WaveNet``, ``WaveNetConfig``), the NumPy reference ops with
  hand-written backprop, Adam, the compute paths (NumPy, the compiled CPU kernels, the GPU), the
  cached sampler, audio I/O and μ-law;
- ``wavecore.training``: settings, windows, the trainer, checkpoints, curricula;
- ``wavecore.analysis``: the built-in clips and what a render is (measures, verbatim runs);
- ``wavecore.study``: the incremental study, its record, plan, report and comparisons;
- ``wavecore.cli``: the ``wavecore`` command.

The names here are the engine's most used ones; ``wavecore.testing`` holds gradient checks and
``wavecore.display`` the HTML that objects show in Jupyter.
"""
from .engine.audio import AudioError, load, mu_law_decode, mu_law_encode, save, trim_silence
from .engine.backends import BackendError
from .engine.config import ConfigError, WaveNetConfig
from .engine.model import Batch, WaveNet
from .engine.optim import Adam

__version__ = "0.3.0"

__all__ = ["Adam", "AudioError", "BackendError", "Batch", "ConfigError", "WaveNet",
           "WaveNetConfig", "load", "mu_law_decode", "mu_law_encode", "save", "trim_silence",
           "__version__"]
