"""The latent discriminators of the `gan` penalty (WAE-GAN): MLPs telling prior samples (logit > 0)
from posterior samples, one for z^c and one for the pairs (z^m_{t-1}, z^m_t)."""

from __future__ import annotations

import torch
from torch import nn

from rwae.models.networks import mlp


class LatentCritic(nn.Module):
    def __init__(self, static_dim: int | None, pair_dim: int | None, hidden: int) -> None:
        super().__init__()
        self.static = mlp(static_dim, hidden, 1, layers=3) if static_dim else None
        self.dynamic = mlp(pair_dim, hidden, 1, layers=3) if pair_dim else None

    def logits(self, name: str, z: torch.Tensor, train_critic: bool) -> torch.Tensor:
        """Logits of the "static" or "dynamic" discriminator. For the model's loss
        (train_critic=False) its weights are used detached, so that loss never trains it; for the
        critic's own loss the codes are detached, so it never trains the model."""
        net = getattr(self, name)
        if train_critic:
            return net(z.detach()).float()
        params = {k: v.detach() for k, v in net.named_parameters()}
        return torch.func.functional_call(net, params, (z,)).float()
