"""Train a small WaveNet on a few clips, then render each clip's continuation.

    python examples/train_and_sample.py [--out DIR] [--steps N] [--tiny]

Trains on two chords synthesised here (C major, A major; 0.5 s at 8 kHz) unless clips are given
(--clips a.wav b.flac ...); renders each clip's continuation at T = 0.9 and 0.6, primed with its
first receptive field, into DIR/clipK_T*.wav.
"""
import argparse
import os

import numpy as np

import wavecore as wc
from wavecore.engine.sampler import CachedSampler
from wavecore.training import Trainer, TrainSettings


def chord(sr, seconds, freqs):
    t = np.arange(int(sr * seconds)) / sr
    env = np.minimum(1.0, t / 0.01) * np.exp(-2.0 * t)
    return (0.3 * env * sum(np.sin(2 * np.pi * f * t) for f in freqs)).astype(np.float32)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/example")
    ap.add_argument("--clips", nargs="*", default=None)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--tiny", action="store_true", help="a very small model (for tests)")
    args = ap.parse_args(argv)
    sr = 8000
    size = dict(layers=4, stacks=1, residual_channels=8, dilation_channels=8, skip_channels=16) \
        if args.tiny else dict(layers=8, stacks=2, residual_channels=32, dilation_channels=32,
                               skip_channels=128)
    cfg = wc.WaveNetConfig(sample_rate=sr, **size)
    clips = args.clips or [chord(sr, 0.5, (261.6, 329.6, 392.0)),
                           chord(sr, 0.5, (220.0, 277.2, 329.6))]
    trainer = Trainer(cfg, clips, TrainSettings(steps=args.steps, batch=4, window=1000, lr=3e-3),
                      out_dir=args.out)
    print(cfg.describe())
    trainer.train()
    sampler = CachedSampler(trainer.net, trainer.weights)
    for k, clip in enumerate(trainer.clips):
        m = trainer.evaluate(clip)
        print(f"clip {k}: {m.bits:.2f} bits/sample, accuracy {m.accuracy:.2f}")
        prime = clip.audio[: cfg.receptive_field]
        for temp in (0.9, 0.6):
            g = sampler.generate(len(clip.audio), prime=prime, temperature=temp, seed=k)
            path = os.path.join(args.out, f"clip{k}_T{temp}.wav")
            g.save(path)
            print(f"  wrote {path}")


if __name__ == "__main__":
    main()
