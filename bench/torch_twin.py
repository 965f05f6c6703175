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
