"""What a render is, heard from outside the network: the built-in clips, the frame-level
measures (log-mel frames and their nearest sources) and the verbatim runs and verdicts built
on them. Built on wavecore.engine's audio; knows nothing of training."""
