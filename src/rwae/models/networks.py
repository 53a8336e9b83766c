"""Building blocks: frame encoders and decoders (conv for images, MLP for features), Gaussian heads,
and the latent discriminators of the `gan` penalty."""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    return nn.Identity()


def conv_channels(side: int, width: int) -> list[int]:
    """Channels after each stride-2 layer that takes a side x side image down to 4 x 4."""
    layers = int(math.log2(side)) - 2
    return [width * 2 ** min(i, 3) for i in range(layers)]


class ConvFrameEncoder(nn.Module):
    """(N, C, S, S) images -> (N, out_dim) features: stride-2 4x4 convs down to 4 x 4, then linear."""

    def __init__(
        self, channels: int, side: int, width: int, out_dim: int, norm: str = "batch"
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = channels
        for i, c_out in enumerate(conv_channels(side, width)):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=i == 0 or norm == "none")]
            layers += [
                nn.Identity() if i == 0 else _norm(norm, c_out),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            c_in = c_out
        self.convs = nn.Sequential(*layers)
        self.proj = nn.Linear(c_in * 16, out_dim)
        self.channels_last = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.proj(self.convs(x).flatten(1))


class PooledFrameEncoder(nn.Module):
    """(N, C, S, S) -> (N, out_dim): what a frame holds, not where — local features (a 4x4 stride-2
    conv, then 1x1 convs: each sees a 4 x 4 patch) averaged over all positions."""

    def __init__(self, channels: int, width: int, out_dim: int) -> None:
        super().__init__()
        self.local = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 2 * width, 1),
            nn.LeakyReLU(0.2),
        )
        self.proj = nn.Linear(2 * width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.local(x).mean((2, 3)))  # (N, 2w, S/2, S/2) -> (N, 2w)


class ConvFrameDecoder(nn.Module):
    """(N, in_dim) -> (N, C, S, S) logits: linear to 4 x 4, then stride-2 4x4 transposed convs."""

    def __init__(
        self, in_dim: int, channels: int, side: int, width: int, norm: str = "batch"
    ) -> None:
        super().__init__()
        widths = conv_channels(side, width)[::-1]  # e.g. [8w, 4w, 2w, w] for 64 x 64
        self.start = widths[0]
        self.proj = nn.Sequential(
            nn.Linear(in_dim, widths[0] * 16), nn.LeakyReLU(0.2, inplace=True)
        )
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(widths):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=norm == "none"),
                _norm(norm, c_out),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers.append(nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1))
        self.deconvs = nn.Sequential(*layers)
        self.channels_last = False

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.proj(h).unflatten(1, (self.start, 4, 4))  # (N, 16 * c) -> (N, c, 4, 4)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.deconvs(x)


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int = 2) -> nn.Sequential:
    """in -> hidden (LeakyReLU) x (layers - 1) -> out."""
    modules: list[nn.Module] = []
    d = in_dim
    for _ in range(layers - 1):
        modules += [nn.Linear(d, hidden), nn.LeakyReLU(0.2, inplace=True)]
        d = hidden
    modules.append(nn.Linear(d, out_dim))
    return nn.Sequential(*modules)


class GaussianHead(nn.Module):
    """Linear map to the mean and log-variance of a diagonal Gaussian, in float32."""

    def __init__(self, in_dim: int, out_dim: int, logvar_floor: float | None = None) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, 2 * out_dim)
        self.logvar_floor = logvar_floor

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.linear(h).float().chunk(2, dim=-1)
        if self.logvar_floor is not None:
            logvar = logvar.clamp_min(self.logvar_floor)
        return mu, logvar


class LatentCritic(nn.Module):
    """Discriminators telling prior samples (logit > 0) from posterior samples (`gan` penalty)."""

    def __init__(self, static_dim: int | None, pair_dim: int | None, hidden: int) -> None:
        super().__init__()
        self.static = mlp(static_dim, hidden, 1, layers=3) if static_dim else None
        self.dynamic = mlp(pair_dim, hidden, 1, layers=3) if pair_dim else None
