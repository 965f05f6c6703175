"""End to end on the NumPy path: a tiny WaveNet trained with Adam memorises a short chord."""
import time

import numpy as np

from wavecore import Adam, WaveNet, WaveNetConfig, mu_law_encode


def chord(sr, seconds):
    t = np.arange(int(sr * seconds)) / sr
    env = np.minimum(1.0, t / 0.02) * np.exp(-3.0 * t)             # attack, decay
    notes = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.00))
    return (0.3 * env * notes).astype(np.float32)


def test_tiny_model_memorises_a_chord():
    sr = 4000
    cfg = WaveNetConfig(layers=6, stacks=1, residual_channels=16, dilation_channels=16,
                        skip_channels=32, sample_rate=sr)
    net = WaveNet(cfg, dtype=np.float32, backend="numpy")
    clip = chord(sr, 0.4)
    # silence before the clip so its first samples carry loss too
    x = mu_law_encode(np.concatenate([np.zeros(cfg.receptive_field, np.float32), clip]))[:, None]
    params = net.init_params(seed=0)
    opt = Adam(net.size, lr=1e-2, clip_norm=5.0)
    start = time.perf_counter()
    first, _ = net.loss_and_grads(params, x)
    for _ in range(250):
        loss, grads = net.loss_and_grads(params, x)
        opt.step(params, grads)
    final, nll, logits = net.loss(params, x)
    acc = float((logits.argmax(-1) == x[cfg.receptive_field:]).mean())
    print(f"loss {first:.3f} -> {final:.4f} nats, accuracy {acc:.3f}, "
          f"{time.perf_counter() - start:.1f} s")
    assert final < first / 50
    assert acc > 0.95
    assert nll.shape == (len(clip), 1)
