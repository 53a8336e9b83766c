"""Re-initialising a starved category of the action code (model.action_split_below).

The code's penalty can settle with two actions in one category and another category that is no
sequence's most likely one (docs/weak.md). As LBG and k-means do with an empty cluster, the starved category k takes the place
of the most used category j: k becomes a copy of j, both nudged apart by a small random direction,
each with half of j's share. The generative model reads k exactly as it reads j (its input weights
for a_k are copied from a_j), and the optimizer's moments follow the copied weights. The code's own
penalty then pulls the two apart along the direction in which j's sequences differ most.
"""

from __future__ import annotations

import math

import torch
from torch import nn

SPLIT_NOISE = 0.05  # the nudge between the two copies, relative to the donor row's spread


def starved_category(usage: torch.Tensor, below: float) -> tuple[int, int] | None:
    """(starved, donor) when the least used category's share (A,) of the sequences it is the most
    likely category for is under below / A; the donor is the most used category. None when every
    category is used enough. (The share of p(a) itself can hide a category that never wins: a
    code at 0.9 / A of p(a) can be nobody's most likely category.)"""
    share = usage * usage.numel()
    starved = int(share.argmin())
    if not below or share[starved] >= below:
        return None
    return starved, int(share.argmax())


def action_inputs(model: nn.Module) -> list[tuple[nn.Parameter, int, int]]:
    """Where the generative model reads a: (weight, dim, offset of a's first column)."""
    c, g = model.config, model.generative
    decoder = g.decoder_lstm.weight_ih_l0 if c.decoder == "lstm" else g.decoder_mlp[0].weight
    return [
        (g.prior_lstm.weight_ih_l0, 1, c.dynamic_dim),
        (decoder, 1, c.static_dim + c.dynamic_dim),
    ]


@torch.no_grad()
def split_category(
    model: nn.Module,
    starved: int,
    donor: int,
    optimizer: torch.optim.Optimizer | None = None,
    generator: torch.Generator | None = None,
) -> None:
    """Make category `starved` a nudged copy of `donor`, each with half of donor's share."""
    head = model.inference.action_head
    weight, bias = head.weight, head.bias  # (A, H), (A,)
    copies = [(weight, 0, 0), (bias, 0, 0), *action_inputs(model)]
    for tensor, dim, offset in copies:
        for t in [tensor, *_moments(optimizer, tensor)]:
            t.select(dim, offset + starved).copy_(t.select(dim, offset + donor))
    nudge = torch.randn(weight.shape[1], generator=generator, device=weight.device)
    nudge *= SPLIT_NOISE * float(weight[donor].std()) / float(nudge.std())
    weight[starved] += nudge
    weight[donor] -= nudge
    bias[[starved, donor]] -= math.log(2.0)  # the pair keeps donor's probability between them
    for shares in (model.generative.action_marginal, model.generative.action_usage):
        shares[[starved, donor]] = shares[donor] / 2
        shares /= shares.sum()  # the starved category's old share goes to all


def _moments(optimizer: torch.optim.Optimizer | None, p: torch.Tensor) -> list[torch.Tensor]:
    """Adam's running moments of parameter p (empty before its first step or without one)."""
    if optimizer is None:
        return []
    state = optimizer.state.get(p, {})
    return [state[k] for k in ("exp_avg", "exp_avg_sq") if k in state]
