"""The action code's penalties over q(a | x) logits (B, A): the paper's information term, and
cross-entropy against balanced assignments (every category keeps a share)."""

from __future__ import annotations

import math

import torch

# balanced_assignment_loss: the assignments are the code's probabilities raised to this power (SeLa,
# Asano et al. 2020, use 25), then balanced by Sinkhorn-Knopp rounds until every category holds its
# share to within BALANCE_TOLERANCE (a category the code starved needs ~200 rounds; SwAV's 3 leave
# it near empty), at most MAX_ROUNDS
SHARPNESS, BALANCE_TOLERANCE, MAX_ROUNDS = 25.0, 0.05, 500


def categorical_information_penalty(
    logits: torch.Tensor, conditional_weight: float = 1.0
) -> torch.Tensor:
    """KL(mean_x q(a|x) || uniform) + w · mean_x H(q(a|x)) for logits (B, A): at w = 1 minimising
    it maximises I(x; a); w < 1 prices confident assignments less than an unused category."""
    log_q = torch.log_softmax(logits.float(), -1)
    q = log_q.exp()
    conditional_entropy = -(q * log_q).sum(-1).mean()
    q_bar = q.mean(0)
    kl_to_uniform = (q_bar * (q_bar.clamp_min(1e-12).log() + math.log(logits.shape[-1]))).sum()
    return kl_to_uniform + conditional_weight * conditional_entropy


def balanced_assignments(logits: torch.Tensor) -> torch.Tensor:
    """Soft assignments (N, A), each row summing to 1, close to q(a | x)^SHARPNESS but with every
    category holding 1/A of the N sequences (Sinkhorn-Knopp in the log domain; no gradient)."""
    n, a = logits.shape
    log_q = SHARPNESS * torch.log_softmax(logits.detach().float(), -1)
    for round_ in range(1, MAX_ROUNDS + 1):
        log_q = log_q - log_q.logsumexp(0, keepdim=True) - math.log(a)  # each category: 1/A
        log_q = log_q - log_q.logsumexp(1, keepdim=True) - math.log(n)  # each sequence: 1/N
        if round_ % 10 == 0:  # each category's share, times A
            share = (log_q.logsumexp(0) + math.log(a)).exp()
            if float((share - 1).abs().max()) < BALANCE_TOLERANCE:
                break
    return (log_q + math.log(n)).exp()


def balanced_assignment_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of q(a | x) against its balanced assignments (SeLa / SwAV's self-labelling):
    it maximises I(x; a) under an even split, and a starved category still gets a gradient
    (q - target), where the information term's vanishes with q."""
    targets = balanced_assignments(logits)
    return -(targets * torch.log_softmax(logits.float(), -1)).sum(-1).mean()
