"""The "gpu" backend object (made by wavecore.engine.backends.make): the step of _gpu/model.py, Adam
and the gradient norm of kernels/optim.cu, the sampler of _gpu/sampler.py, on CUDA or on the
CPU emulator of the same kernels."""
from __future__ import annotations

import numpy as np

from .._gpu import device, ops
from .._gpu.model import GpuModel
from .._gpu.sampler import GpuSampler
from .base import Backend, BackendError


class GpuBackend(Backend):
    name = "gpu"

    def __init__(self, threads: int | None = None):
        super().__init__(threads)
        self.dev = device.get()
        self.xp = self.dev.xp
        self._model = (None, None)              # (net, its GpuModel)

    def step_of(self, net):
        """The GpuModel (workspaces, CUDA graphs) of this net."""
        if self._model[0] is not net:
            self._model = (net, GpuModel(net, self.dev))
        return self._model[1]

    def allreduce_(self, world, buf) -> None:
        """The flat gradient summed over the ranks on the device: NCCL on CUDA (one GPU per
        rank, chosen by its local rank), MPI on the emulator."""
        if world.size > 1:
            self.dev.allreduce_(world, buf)

    def to_device(self, a, dtype=None):
        xp = self.xp
        if (isinstance(a, xp.ndarray) and (dtype is None or a.dtype == dtype)
                and a.flags.c_contiguous):
            return a
        if isinstance(a, xp.ndarray):
            return xp.ascontiguousarray(a, dtype=dtype)
        return xp.asarray(np.ascontiguousarray(a, dtype=dtype))

    def to_host(self, a) -> np.ndarray:
        return self.dev.to_host(a)

    def loss_and_grads(self, net, params, x, gc, y=None):
        """Host params in: a host gradient of its own out; device params in: the gradient on
        the device (the workspace's buffer, valid until the next step). It keeps every
        activation: recompute="on" is the CPU kernels' option only."""
        if self.recompute == "on":
            raise BackendError("recompute='on': the gpu backend keeps every activation; "
                               "use recompute='auto' or 'off' there")
        loss, grads, _, _ = self.step_of(net).loss_and_grads(params, x, gc, y=y)
        return loss, grads if isinstance(params, self.xp.ndarray) else self.to_host(grads)

    def evaluate(self, net, params, x, gc, y=None):
        """(loss, nll: (T, B), pred: (T, B)), host arrays of their own."""
        loss, _, nll, pred = self.step_of(net).loss_and_grads(params, x, gc, backward=False, y=y)
        return loss, self.to_host(nll), self.to_host(pred)

    def sum_squares(self, g) -> float:
        return ops.sum_squares(self.dev, g)

    def adam_update(self, p, g, m, v, step, b1, b2, eps_hat, scale) -> None:
        ops.adam_update(self.dev, p, g, m, v, step, b1, b2, eps_hat, scale)

    def bf16_refusal(self, dtype) -> str | None:
        return "precision bf16 is a CPU path; the GPU backend runs fp32"

    def set_tf32(self, on: bool) -> None:
        """float32 GEMMs on TF32 tensor cores (CUDA; the emulator computes in float32 anyway)."""
        self.dev.set_tf32(on)

    def sampler(self, net, params, streams_per_block=None, gpu_kernel="auto"):
        return GpuSampler(net, self.to_device(params, net.dtype), self.dev,
                          streams_per_block=streams_per_block, kernel=gpu_kernel)
