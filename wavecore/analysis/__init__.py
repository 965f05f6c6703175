"""What a render is, heard from outside the network: the built-in clips, the frame-level
measures (log-mel frames and their nearest sources), the verbatim runs and verdicts built
on them, and a clip's moments (labelled, built in or found from what it repeats) with the lift
of a render's fragments from each. Built on wavecore.engine's audio; knows nothing of training."""
