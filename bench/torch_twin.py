"""The reference network in PyTorch (conv1d, autograd), for timing beside wavecore."""
import torch
import torch.nn.functional as F


class TorchWaveNet(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        R, D, S, A = (cfg.residual_channels, cfg.dilation_channels, cfg.skip_channels,
                      cfg.classes)
        self.cfg = cfg
        self.embed = torch.nn.Conv1d(A, R, 2)     # one-hot input conv, kernel 2
        self.convs = torch.nn.ModuleList(torch.nn.Conv1d(R, 2 * D, 2, dilation=d)
                                         for d in cfg.dilations)
        self.res = torch.nn.ModuleList(torch.nn.Conv1d(D, R, 1) for _ in cfg.dilations[:-1])
        self.skip = torch.nn.ModuleList(torch.nn.Conv1d(D, S, 1) for _ in cfg.dilations)
        self.out1 = torch.nn.Conv1d(S, S, 1)
        self.out2 = torch.nn.Conv1d(S, A, 1)

    def forward(self, x):
        """x: (B, N) classes -> loss over the last N - RF positions."""
        RF = self.cfg.receptive_field
        T = x.shape[1] - RF
        h = self.embed(F.one_hot(x[:, :-1], self.cfg.classes).permute(0, 2, 1).float())
        skips = 0
        for l, conv in enumerate(self.convs):
            f, g = conv(h).chunk(2, dim=1)
            z = torch.tanh(f) * torch.sigmoid(g)
            skips = skips + self.skip[l](z[:, :, -T:])
            if l < len(self.res):
                h = h[:, :, -z.shape[2]:] + self.res[l](z)
        logits = self.out2(F.relu(self.out1(F.relu(skips))))
        return F.cross_entropy(logits, x[:, RF:])


@torch.no_grad()
def torch_cached_generate(model, n, streams=1, temperature=1.0, seed=0):
    """The fast WaveNet queues in PyTorch, one Python iteration per sample (what a typical
    PyTorch sampler does): per layer a queue of the last d inputs."""
    cfg = model.cfg
    g = torch.Generator().manual_seed(seed)
    R, A = cfg.residual_channels, cfg.classes
    queues = [torch.zeros(d, streams, R) for d in cfg.dilations]
    E0 = model.embed.weight[:, :, 0].T                 # (A, R)
    E1 = model.embed.weight[:, :, 1].T
    Ws = [(c.weight[:, :, 0].T.contiguous(), c.weight[:, :, 1].T.contiguous(), c.bias)
          for c in model.convs]
    x_prev = torch.full((streams,), A // 2, dtype=torch.long)
    x_cur = x_prev.clone()
    out = torch.empty(n, streams, dtype=torch.long)
    for t in range(n):
        h = E0[x_prev] + E1[x_cur] + model.embed.bias
        skip = 0
        for l, d in enumerate(cfg.dilations):
            q = queues[l][t % d]
            Wp, Wc, c = Ws[l]
            f, gg = (q @ Wp + h @ Wc + c).chunk(2, dim=1)
            z = torch.tanh(f) * torch.sigmoid(gg)
            queues[l][t % d] = h
            skip = skip + F.linear(z, model.skip[l].weight[:, :, 0], model.skip[l].bias)
            if l < len(model.res):
                h = h + F.linear(z, model.res[l].weight[:, :, 0], model.res[l].bias)
        o = F.relu(F.linear(F.relu(skip), model.out1.weight[:, :, 0], model.out1.bias))
        logits = F.linear(o, model.out2.weight[:, :, 0], model.out2.bias)
        x_prev = x_cur
        x_cur = torch.multinomial(torch.softmax(logits / temperature, dim=1), 1, generator=g)[:, 0]
        out[t] = x_cur
    return out
