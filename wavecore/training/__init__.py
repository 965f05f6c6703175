"""Training a WaveNet on clips: the settings, the draw of windows, the trainer (step, loop,
checkpoint and resume), evaluation, signals, triggers, input corruption, curricula and the run
directory. Built on wavecore.engine; knows nothing of studies or the command line."""
from .settings import TrainSettings
from .trainer import Trainer, TrainingError
from .windows import Clip, load_clip

__all__ = ["Clip", "TrainSettings", "Trainer", "TrainingError", "load_clip"]
