"""Gradient checks for every backend: a central difference along random directions, in float64.

After Chainer's ``check_backward``: rather than one finite difference per
element, the analytic gradient is projected on a random direction u and
compared with (L(x + εu) - L(x - εu)) / 2ε, where L = <dy, f(x)>.
"""
from __future__ import annotations

import numpy as np


class GradientCheckError(AssertionError):
    """An analytic gradient disagrees with the finite difference."""


def check_gradient(loss_fn, x: np.ndarray, grad: np.ndarray, *, eps: float = 1e-6,
                   rtol: float = 1e-6, atol: float = 1e-10, directions: int = 3,
                   seed: int = 0, name: str = "x") -> list[tuple[float, float]]:
    """Check ``grad`` (analytic dL/dx) of a scalar ``loss_fn(x)`` along random directions.

    Works on a float64 copy of ``x``. Returns [(numeric, analytic), ...]; raises
    GradientCheckError naming ``name`` when |num - ana| > atol + rtol * max(|num|, |ana|).
    """
    x = np.array(x, dtype=np.float64)
    grad = np.asarray(grad, dtype=np.float64)
    if grad.shape != x.shape:
        raise GradientCheckError(f"{name}: gradient shape {grad.shape} != input shape {x.shape}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(directions):
        u = rng.standard_normal(x.shape)
        u /= np.linalg.norm(u) or 1.0
        num = (float(loss_fn(x + eps * u)) - float(loss_fn(x - eps * u))) / (2 * eps)
        ana = float(np.sum(grad * u))
        if not abs(num - ana) <= atol + rtol * max(abs(num), abs(ana)):
            raise GradientCheckError(f"{name}: directional derivative {ana:.12g} (backward) "
                                     f"!= {num:.12g} (finite difference), "
                                     f"diff {abs(num - ana):.3g}")
        out.append((num, ana))
    return out


def _dot(dy, y) -> float:
    if isinstance(y, (tuple, list)):
        return sum(_dot(a, b) for a, b in zip(dy, y) if b is not None)
    return float(np.sum(np.asarray(dy) * np.asarray(y)))


def _like(y, rng):
    if isinstance(y, (tuple, list)):
        return tuple(None if b is None else _like(b, rng) for b in y)
    return rng.standard_normal(np.shape(y))


def check_backward(forward, backward, inputs, dy=None, **kw) -> None:
    """Check an op pair ``forward(*inputs) -> (y, cache)``, ``backward(dy, cache) -> grads``.

    ``backward`` returns one gradient per floating-point ndarray input, in argument
    order (None where that input is absent). Every floating input is cast to
    float64 and checked; ``dy`` is random (same structure as y) unless given.
    """
    inputs = [np.array(a, dtype=np.float64) if isinstance(a, np.ndarray)
              and np.issubdtype(a.dtype, np.floating) else a for a in inputs]
    wrt = [i for i, a in enumerate(inputs) if isinstance(a, np.ndarray) and a.dtype == np.float64]
    y, cache = forward(*inputs)
    rng = np.random.default_rng(kw.pop("seed", 0))
    if dy is None:
        dy = _like(y, rng)
    grads = [g for g in backward(dy, cache) if g is not None]
    if len(grads) != len(wrt):
        raise GradientCheckError(f"backward returned {len(grads)} gradients for "
                                 f"{len(wrt)} float inputs")
    for k, (i, gi) in enumerate(zip(wrt, grads)):
        def loss(xi, i=i):
            args = list(inputs)
            args[i] = xi
            return _dot(dy, forward(*args)[0])
        check_gradient(loss, inputs[i], gi, name=f"input {i}", seed=k, **kw)


def check_model_gradients(net, params: np.ndarray, batch, grads: np.ndarray | None = None,
                          **kw) -> dict[str, list[tuple[float, float]]]:
    """Check a model's flat gradient block by block (every named view gets its own
    random directions, so an error in a small block cannot hide in a large one).

    ``net`` must be float64; ``grads`` defaults to ``net.loss_and_grads(params, batch)[1]``.
    """
    if net.dtype != np.float64:
        raise ValueError("check_model_gradients needs a float64 model")
    params = np.array(params, dtype=np.float64)
    if grads is None:
        grads = net.loss_and_grads(params, batch)[1]
    out = {}
    for name, (o, shape) in net.offsets.items():
        n = int(np.prod(shape))
        if n == 0:
            continue

        def loss(block, o=o, n=n):
            p = params.copy()
            p[o:o + n] = block
            return net.loss(p, batch)[0]
        out[name] = check_gradient(loss, params[o:o + n], grads[o:o + n], name=name, **kw)
    return out
