"""Every NumPy reference op: float64 gradient check on odd shapes, dtype genericity."""
import numpy as np
import pytest

from wavecore.engine import ops
from wavecore.testing import GradientCheckError, check_backward

rng = np.random.default_rng(1234)
B, R, D, S, A, T = 2, 3, 5, 7, 11, 17


def randn(*shape):
    return rng.standard_normal(shape)


def test_input_conv_grad():
    x = rng.integers(0, A, size=(T + 1, B))
    x[:4] = 3  # repeated classes exercise the scatter-add
    check_backward(ops.input_conv_forward, ops.input_conv_backward, [x, randn(2, A, R), randn(R)])


@pytest.mark.parametrize("d", [1, 2, 4, 8])
def test_dilated_conv_grad(d):
    check_backward(ops.dilated_conv_forward, ops.dilated_conv_backward,
                   [randn(T + d, B, R), randn(2 * R, 2 * D), randn(2 * D), d])


def test_dilated_conv_matches_loop():
    """fg[t] = W[:R]^T h[t] + W[R:]^T h[t+d] (in output indexing) computed one step at a time."""
    d, h, W, c = 4, randn(T + 4, B, R), randn(2 * R, 2 * D), randn(2 * D)
    fg, _ = ops.dilated_conv_forward(h, W, c, d)
    for t in range(T):
        for b in range(B):
            want = h[t, b] @ W[:R] + h[t + d, b] @ W[R:] + c
            np.testing.assert_allclose(fg[t, b], want, rtol=1e-12)


def test_gate_grad():
    check_backward(ops.gate_forward, ops.gate_backward, [randn(T, B, 2 * D) * 2])


def test_gate_extremes_finite():
    z, _ = ops.gate_forward(np.array([[[-800.0, 800.0, 800.0, -800.0]]]))
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(z, [[[-1.0, 0.0]]])


@pytest.mark.parametrize("d", [1, 2, 4, 8])
@pytest.mark.parametrize("last", [False, True])
def test_residual_skip_grad(d, last):
    Tl = T + 3
    Wr, br = (None, None) if last else (randn(D, R), randn(R))
    check_backward(ops.residual_skip_forward, ops.residual_skip_backward,
                   [randn(Tl + d, B, R), randn(Tl, B, D), Wr, br, randn(D, S), randn(S), T])


def test_output_head_grad():
    check_backward(ops.output_head_forward, ops.output_head_backward,
                   [randn(T, B, S), randn(S, S), randn(S), randn(S, A), randn(A)])


def test_softmax_ce_grad_and_value():
    logits, targets = randn(T, B, A) * 3, rng.integers(0, A, size=(T, B))
    check_backward(ops.softmax_ce_forward, ops.softmax_ce_backward, [logits, targets])
    loss, cache = ops.softmax_ce_forward(logits, targets)
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    want = -np.log(np.take_along_axis(p, targets[..., None], -1)).mean()
    np.testing.assert_allclose(loss, want, rtol=1e-12)
    big, _ = ops.softmax_ce_forward(logits * 1e4, targets)   # no overflow
    assert np.isfinite(big)


def test_global_cond_grad():
    ids = np.array([2, 0, 2])
    check_backward(ops.global_cond_forward, ops.global_cond_backward,
                   [ids, randn(4, 3), randn(3, 2 * D)])


def test_gradient_check_catches_a_wrong_backward():
    def bad_backward(dy, cache):
        dh, dW, dc = ops.dilated_conv_backward(dy, cache)
        dW[0, 0] += 1e-3                       # a single wrong element
        return dh, dW, dc
    with pytest.raises(GradientCheckError):
        check_backward(ops.dilated_conv_forward, bad_backward,
                       [randn(T + 2, B, R), randn(2 * R, 2 * D), randn(2 * D), 2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ops_keep_dtype(dtype):
    h = randn(T + 2, B, R).astype(dtype)
    fg, c1 = ops.dilated_conv_forward(h, randn(2 * R, 2 * D).astype(dtype),
                                      randn(2 * D).astype(dtype), 2)
    z, c2 = ops.gate_forward(fg)
    (hn, sk), c3 = ops.residual_skip_forward(h, z, randn(D, R).astype(dtype),
                                             randn(R).astype(dtype), randn(D, S).astype(dtype),
                                             randn(S).astype(dtype), T)
    assert fg.dtype == z.dtype == hn.dtype == sk.dtype == dtype
    grads = ops.residual_skip_backward((np.ones_like(hn), np.ones_like(sk)), c3)
    assert all(g.dtype == dtype for g in grads)
    assert ops.gate_backward(z, c2)[0].dtype == dtype
    assert all(g.dtype == dtype for g in ops.dilated_conv_backward(fg, c1))
