"""``python -m wavecore.cli``: the ``wavecore`` command."""
import sys

from .main import main

sys.exit(main())
