"""Closed-form divergences and cross-entropies of diagonal Gaussians."""

from __future__ import annotations

import math

import torch


def kl_normal(
    mu_q: torch.Tensor,
    logvar_q: torch.Tensor,
    mu_p: torch.Tensor | None = None,
    logvar_p: torch.Tensor | None = None,
) -> torch.Tensor:
    """KL(N(mu_q, e^logvar_q) || N(mu_p, e^logvar_p)) summed over the last dim; p defaults to N(0, I)."""
    if mu_p is None:
        mu_p = torch.zeros_like(mu_q)
    if logvar_p is None:
        logvar_p = torch.zeros_like(logvar_q)
    kl = 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1.0)
    return kl.sum(-1)


def gaussian_cross_entropy(
    mu_q: torch.Tensor, logvar_q: torch.Tensor | None, mu_p: torch.Tensor, logvar_p: torch.Tensor
) -> torch.Tensor:
    """E_{z ~ N(mu_q, e^logvar_q)}[-log N(z; mu_p, e^logvar_p)] summed over the last dim, in nats
    (the part of KL(q || p) that p controls); logvar_q None: the point z = mu_q."""
    spread = (mu_q - mu_p) ** 2 + (0.0 if logvar_q is None else logvar_q.exp())
    return 0.5 * (math.log(2 * math.pi) + logvar_p + spread / logvar_p.exp()).sum(-1)
