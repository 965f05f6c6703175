"""The engine: the WaveNet itself and what runs it.

The model's config and parameter layout, the NumPy reference ops with their hand-written
backward passes (``ops``), the model, Adam, the precision a step runs in, the compute paths
(``backends``: NumPy, the compiled CPU kernels of ``_cpu``, the GPU of ``_gpu``), the cached
sampler, audio I/O and μ-law, atomic file writes, and the MPI world. Nothing here knows of
training runs, studies or the command line.
"""
