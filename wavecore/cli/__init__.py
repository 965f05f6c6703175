"""The ``wavecore`` command (``main``): its flags come from the settings' fields."""
from .main import main

__all__ = ["main"]
