"""A Gaussian mixture with full covariances: fitted by EM to codes, sampled for generation.

Used as an ex-post prior (as in Ghosh et al. 2020, "From variational to deterministic
autoencoders") over the first dynamic code z^m_1: the learned prior's first step is one Gaussian
over codes that form one cluster per action, so its draws land between the clusters; a mixture
fitted to the codes after training does not (rwae.dynamic_start).
"""

from __future__ import annotations

import math

import torch


def fit_gaussian_mixture(
    codes: torch.Tensor,
    components: int,
    iterations: int = 100,
    seed: int = 0,
    ridge: float = 1e-4,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EM on codes (N, d): weights (K,), means (K, d), Cholesky factors of the covariances
    (K, d, d), in float32. Means start at K codes drawn without replacement; `ridge` (times the
    codes' mean variance) is added to every covariance's diagonal."""
    x = codes.double()
    n, d = x.shape
    if not 1 <= components <= n:
        raise ValueError(f"components must be in 1..{n} (the number of codes), got {components}")
    g = torch.Generator().manual_seed(seed)
    means = x[torch.randperm(n, generator=g)[:components]].clone()
    eye = torch.eye(d, dtype=x.dtype) * ridge * x.var(0).mean()
    covariances = (torch.cov(x.T) + eye).expand(components, d, d).clone()
    weights = torch.full((components,), 1.0 / components, dtype=x.dtype)
    for _ in range(iterations):
        scale_tril = torch.linalg.cholesky(covariances)
        resp = torch.softmax(_log_density(x, weights, means, scale_tril), 1)  # (N, K)
        mass = resp.sum(0) + 1e-12
        weights = mass / n
        means = resp.T @ x / mass[:, None]
        centred = x[:, None, :] - means  # (N, K, d)
        covariances = torch.einsum("nk,nki,nkj->kij", resp, centred, centred) / mass[:, None, None]
        covariances = covariances + eye
    return weights.float(), means.float(), torch.linalg.cholesky(covariances).float()


def _log_density(
    x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, scale_tril: torch.Tensor
) -> torch.Tensor:
    """log(w_k N(x_n | μ_k, L_k L_kᵀ)) for every code and component: (N, K)."""
    centred = (x[:, None, :] - means).unsqueeze(-1)  # (N, K, d, 1)
    solved = torch.linalg.solve_triangular(scale_tril, centred, upper=False).squeeze(-1)
    log_det = scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)  # (K,)
    d = x.shape[1]
    return weights.log() - log_det - 0.5 * (solved**2).sum(-1) - 0.5 * d * math.log(2 * math.pi)


def mixture_log_likelihood(
    codes: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, scale_tril: torch.Tensor
) -> float:
    """Mean log-likelihood per code under the mixture (for choosing K on held-out codes)."""
    x = codes.double()
    log_p = _log_density(x, weights.double(), means.double(), scale_tril.double())
    return float(torch.logsumexp(log_p, 1).mean())


def sample_mixture(
    n: int,
    weights: torch.Tensor,
    means: torch.Tensor,
    scale_tril: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """n draws (n, d) from the mixture."""
    k = torch.multinomial(weights.float(), n, replacement=True, generator=generator)
    noise = torch.randn(n, means.shape[1], 1, generator=generator, device=means.device)
    return means[k].float() + (scale_tril[k].float() @ noise).squeeze(-1)
