"""Maximum mean discrepancy with the WAE paper's multi-scale kernels, as an unbiased U-statistic.

k(x, y) = sum_s k_s(x, y) over scales s, with C = 2 * dim * sigma^2:
  imq: s*C / (s*C + |x - y|^2)        rbf: exp(-|x - y|^2 / (s*C))
MMD^2 = 1/(n(n-1)) sum_{i != j} [k(x_i, x_j) + k(y_i, y_j) - k(x_i, y_j) - k(x_j, y_i)]
The i = j terms are left out of the cross term too (DESIGN.md §1.3). Always computed in float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

WAE_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(..., n, d), (..., m, d) -> (..., n, m) squared Euclidean distances, clamped at 0."""
    d = (x * x).sum(-1, keepdim=True) + (y * y).sum(-1).unsqueeze(-2) - 2 * x @ y.transpose(-1, -2)
    return d.clamp_min(0)


def kernel(
    d2: torch.Tensor,
    dim: int,
    name: str = "imq",
    scales: Sequence[float] = WAE_SCALES,
    bandwidth: float = 1.0,
) -> torch.Tensor:
    """Multi-scale kernel values from squared distances d2 (any shape)."""
    c = 2.0 * dim * bandwidth**2
    total = torch.zeros_like(d2)
    for s in scales:
        if name == "imq":
            total = total + (s * c) / (s * c + d2)
        elif name == "rbf":
            total = total + torch.exp(-d2 / (s * c))
        else:
            raise ValueError(f"kernel must be 'imq' or 'rbf', got {name!r}")
    return total


def gram(
    x: torch.Tensor,
    y: torch.Tensor,
    kernel_name: str = "imq",
    scales: Sequence[float] = WAE_SCALES,
    bandwidth: float = 1.0,
) -> torch.Tensor:
    """Kernel matrix between samples (..., n, d) and (..., m, d) -> (..., n, m)."""
    return kernel(squared_distances(x, y), x.shape[-1], kernel_name, scales, bandwidth)


def mmd(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    kernel_name: str = "imq",
    scales: Sequence[float] = WAE_SCALES,
    bandwidth: float = 1.0,
) -> torch.Tensor:
    """Unbiased MMD^2 between samples x and y of shape (..., n, d); returns shape (...)."""
    if x.shape != y.shape:
        raise ValueError(
            f"mmd: x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    n = x.shape[-2]
    if n < 2:
        raise ValueError(
            f"mmd needs at least 2 samples per set (the U-statistic divides by n-1), got {n}"
        )
    with torch.autocast(x.device.type, enabled=False):
        x, y = x.float(), y.float()
        k = lambda a, b: gram(a, b, kernel_name, scales, bandwidth)  # noqa: E731
        off_diagonal = 1.0 - torch.eye(n, device=x.device)
        k_xy = k(x, y)
        total = k(x, x) + k(y, y) - k_xy - k_xy.transpose(-1, -2)
        return (total * off_diagonal).sum((-1, -2)) / (n * (n - 1))
