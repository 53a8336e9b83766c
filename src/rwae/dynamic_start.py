"""z^c's prior for generation, fitted after training: a Gaussian mixture over the training codes.

The WAE penalty pulls the aggregate posterior of z^c towards N(0, I) without reaching it: on the
built-in Sprites model every N(0, I) draw lies farther from the training codes than the codes lie
from each other (docs/generation.md), and such draws decode to characters the judge is less sure
of. `fit_static_prior` returns the model with a K-component mixture fitted to the posterior means
of its training sequences, which `generate` (and `rwae sample`) then draw z^c from. Training,
encoding and the disentanglement metrics are unchanged ("resample static" keeps drawing N(0, I),
the prior the encoder was trained against).
"""

from __future__ import annotations

import dataclasses

import torch

from rwae.data.dataset import fetch
from rwae.evaluation.protocol import spread_indices
from rwae.models import RWAE
from rwae.models.mixture import fit_gaussian_mixture

MIXTURE_BUFFERS = "generative.static_prior_"


@torch.no_grad()
def static_codes(model: RWAE, dataset, indices: list[int], batch_size: int = 64) -> torch.Tensor:
    """Posterior means of z^c (N, static_dim) of the given sequences, in float32."""
    model.eval()
    parts = []
    for start in range(0, len(indices), batch_size):
        x = fetch(dataset, indices[start : start + batch_size])["x"].to(model.device)
        parts.append(model.encode(x).static_mean.float().cpu())
    return torch.cat(parts)


def with_static_prior(model: RWAE, components: int) -> RWAE:
    """A copy of `model` with room for a `components`-way static prior mixture (not yet fitted)."""
    config = dataclasses.replace(model.config, static_prior_components=components)
    copy = RWAE(config).to(model.device)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(MIXTURE_BUFFERS)}
    missing, unexpected = copy.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith(MIXTURE_BUFFERS) for k in missing):
        raise RuntimeError(f"static prior: weights do not carry over ({missing}, {unexpected})")
    return copy.eval()


def fit_static_prior(
    model: RWAE, dataset, components: int = 10, sequences: int = 4000, seed: int = 0
) -> RWAE:
    """The model with z^c's generation prior a `components`-way Gaussian mixture fitted (EM) to the
    posterior means of `sequences` spread-out sequences of `dataset` (its training data)."""
    fitted = with_static_prior(model, components)
    fit_in_place(fitted, dataset, sequences, seed)
    return fitted


def fit_in_place(model: RWAE, dataset, sequences: int = 4000, seed: int = 0) -> None:
    """Fit the mixture of a model built with model.static_prior_components > 0 (as training does
    at its end)."""
    codes = static_codes(model, dataset, spread_indices(len(dataset), sequences))
    components = model.config.static_prior_components
    weights, means, scale_tril = fit_gaussian_mixture(codes, min(components, len(codes)), seed=seed)
    if len(weights) < components:  # fewer codes than components: the rest get no weight
        pad = components - len(weights)
        weights = torch.cat([weights, weights.new_zeros(pad)])
        means = torch.cat([means, means.new_zeros(pad, means.shape[1])])
        eye = torch.eye(means.shape[1]).expand(pad, -1, -1)
        scale_tril = torch.cat([scale_tril, eye])
    device = model.device
    model.generative.set_static_prior(weights.to(device), means.to(device), scale_tril.to(device))
