"""The same network written independently in PyTorch (conv1d, autograd), same weights:
logits, loss and every parameter gradient must agree in float64. Lives in tests/ only."""
import numpy as np
import pytest
from conftest import random_batch

from wavecore import Batch, WaveNet, WaveNetConfig

torch = pytest.importorskip("torch", reason="PyTorch is not installed; the twin test needs it")
F = torch.nn.functional


def torch_wavenet(cfg, p, x, gc=None):
    """p: dict of float64 leaf tensors named like WaveNet.views; x: (N, B) classes."""
    RF, L = cfg.receptive_field, cfg.n_layers
    xin = torch.as_tensor(x[:-1].T)                                # (B, M)
    T = xin.shape[1] - RF + 1
    onehot = F.one_hot(xin, cfg.classes).permute(0, 2, 1).double()  # (B, A, M)
    w_in = torch.stack([p["input.E"][0].T, p["input.E"][1].T], dim=2)  # (R, A, 2)
    h = F.conv1d(onehot, w_in, p["input.b"])                       # (B, R, M-1)
    skips = 0
    for l, d in enumerate(cfg.dilations):
        R = cfg.residual_channels
        W = p["layers.W"][l]
        w = torch.stack([W[:R].T, W[R:].T], dim=2)                 # (2D, R, 2): tap 0 = t-d
        fg = F.conv1d(h, w, p["layers.c"][l], dilation=d)          # (B, 2D, Tl)
        if gc is not None:
            fg = fg + (p["gc.embed"][torch.as_tensor(gc)] @ p["layers.V"][l])[:, :, None]
        f, g = fg.chunk(2, dim=1)
        z = torch.tanh(f) * torch.sigmoid(g)
        skips = skips + F.conv1d(z[:, :, -T:], p["skip.W"][l].T[:, :, None], p["skip.b"][l])
        if l < L - 1:
            h = h[:, :, d:] + F.conv1d(z, p["layers.Wr"][l].T[:, :, None], p["layers.br"][l])
    y = F.relu(F.conv1d(F.relu(skips), p["out.W1"].T[:, :, None], p["out.b1"]))
    logits = F.conv1d(y, p["out.W2"].T[:, :, None], p["out.b2"])   # (B, A, T)
    target = torch.as_tensor(x[RF:].T)
    return logits.permute(2, 0, 1), F.cross_entropy(logits, target)


@pytest.mark.parametrize("gc_ids", [0, 3])
def test_pytorch_twin_agrees(gc_ids):
    cfg = WaveNetConfig(layers=3, stacks=2, residual_channels=5, dilation_channels=6,
                        skip_channels=7, classes=13, gc_ids=gc_ids, gc_channels=4)
    net = WaveNet(cfg, dtype=np.float64, backend="numpy")
    params = net.init_params(seed=11)
    params += 0.05 * np.random.default_rng(0).standard_normal(params.shape)
    x = random_batch(cfg, T=23, B=3, seed=5)
    gc = np.array([2, 0, 1]) if gc_ids else None
    loss, grads = net.loss_and_grads(params, Batch(x, gc))
    _, _, logits = net.loss(params, Batch(x, gc))

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in net.views(params).items()}
    t_logits, t_loss = torch_wavenet(cfg, tp, x, gc)
    t_loss.backward()
    np.testing.assert_allclose(logits, t_logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(loss, t_loss.item(), rtol=1e-12)
    g = net.views(grads)
    for name, t in tp.items():
        want = t.grad.numpy() if t.grad is not None else np.zeros(t.shape)
        np.testing.assert_allclose(g[name], want, rtol=1e-9, atol=1e-12, err_msg=name)
