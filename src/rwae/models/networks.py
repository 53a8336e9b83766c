"""Building blocks: frame encoders and decoders (conv for images, MLP for features) and Gaussian
heads with their reparameterised sampling."""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn


def conv_channels(side: int, width: int) -> list[int]:
    """Channels after each stride-2 layer that takes a side x side image down to 4 x 4."""
    layers = int(math.log2(side)) - 2
    return [width * 2 ** min(i, 3) for i in range(layers)]


class ConvFrameEncoder(nn.Module):
    """(N, C, S, S) images -> (N, out_dim) features: stride-2 4x4 convs down to 4 x 4, then linear."""

    def __init__(self, channels: int, side: int, width: int, out_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = channels
        for i, c_out in enumerate(conv_channels(side, width)):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=i == 0)]
            layers += [
                nn.Identity() if i == 0 else nn.BatchNorm2d(c_out),
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


class ConvFrameDecoder(nn.Module):
    """(N, in_dim) -> (N, C, S, S) logits: linear to 4 x 4, then stride-2 4x4 transposed convs."""

    def __init__(self, in_dim: int, channels: int, side: int, width: int) -> None:
        super().__init__()
        widths = conv_channels(side, width)[::-1]  # e.g. [8w, 4w, 2w, w] for 64 x 64
        self.start = widths[0]
        self.proj = nn.Sequential(
            nn.Linear(in_dim, widths[0] * 16), nn.LeakyReLU(0.2, inplace=True)
        )
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(widths):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
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


def translate(canvas: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Each canvas (N, C, S, S) moved by its shift (N, 2): (x, y) in units of half the frame (1 =
    S/2 pixels; positive: right, down), bilinear, in float32; the canvas's edge repeats where the
    move uncovers the frame."""
    canvas, shift = canvas.float(), shift.float()
    eye = torch.eye(2, device=shift.device).expand(shift.shape[0], 2, 2)
    theta = torch.cat([eye, -shift.unsqueeze(-1)], -1)  # (N, 2, 3): output pixel p reads p - shift
    grid = F.affine_grid(theta, list(canvas.shape), align_corners=False)
    return F.grid_sample(canvas, grid, padding_mode="border", align_corners=False)


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

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, 2 * out_dim)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.linear(h).float().chunk(2, dim=-1)
        return mu, logvar


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A sample of N(mu, exp(logvar)), from `generator` if given."""
    if generator is None:
        eps = torch.randn_like(mu)  # traceable by torch.compile
    else:
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + eps * (0.5 * logvar).exp()
