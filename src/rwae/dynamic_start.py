"""The first dynamic code's prior for generation, fitted after training: a Gaussian mixture over
the training sequences' z^m_1.

The learned prior p(z^m_t | z^m_<t) starts from a fixed input (z^m_0 = 0), so its first step is one
Gaussian, while the posterior's first codes form one cluster per action. Fitted by likelihood, the
Gaussian covers them all and samples start between the clusters: on the built-in Sprites model
their judged actions favour a few of the nine (docs/generation.md). Starting the learned prior from
a draw of a mixture fitted to the posterior's first codes gives every action its share; the prior's
own dynamics carry on from there. `fit_dynamic_start` returns the model with the mixture fitted;
`generate` (and `rwae sample`) then use it. Training, encoding and the disentanglement metrics are
unchanged ("resample dynamics" keeps the learned prior's own first step, the prior the encoder was
trained against).
"""

from __future__ import annotations

import dataclasses

import torch

from rwae.data.dataset import fetch
from rwae.errors import RWAEError
from rwae.evaluation.protocol import spread_indices
from rwae.models import RWAE
from rwae.models.mixture import fit_gaussian_mixture

MIXTURE_BUFFERS = "generative.dynamic_start_"


@torch.no_grad()
def first_dynamic_codes(
    model: RWAE, dataset, indices: list[int], batch_size: int = 64, seed: int = 0
) -> torch.Tensor:
    """Posterior samples of z^m_1 (N, dynamic_dim) of the given sequences, in float32 (samples, as
    the learned prior was fitted to)."""
    model.eval()
    g = torch.Generator(device=model.device).manual_seed(seed)
    parts = []
    for start in range(0, len(indices), batch_size):
        x = fetch(dataset, indices[start : start + batch_size])["x"].to(model.device)
        parts.append(model.encode(x, g).dynamic[:, 0].float().cpu())
    return torch.cat(parts)


def with_dynamic_start(model: RWAE, components: int) -> RWAE:
    """A copy of `model` with room for a `components`-way mixture over z^m_1 (not yet fitted)."""
    config = dataclasses.replace(model.config, dynamic_start_components=components)
    copy = RWAE(config).to(model.device)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(MIXTURE_BUFFERS)}
    missing, unexpected = copy.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith(MIXTURE_BUFFERS) for k in missing):
        raise RuntimeError(f"dynamic start: weights do not carry over ({missing}, {unexpected})")
    return copy.eval()


def fit_dynamic_start(
    model: RWAE, dataset, components: int = 9, sequences: int = 4000, seed: int = 0
) -> RWAE:
    """The model with z^m_1's generation prior a `components`-way Gaussian mixture fitted (EM) to
    the posterior's first codes of `sequences` spread-out sequences of `dataset` (its training
    data)."""
    if model.config.num_actions:
        raise RWAEError(
            "a fitted dynamic start is for models without an action code (with one, the learned "
            "prior's first step already depends on the action)"
        )
    fitted = with_dynamic_start(model, components)
    fit_in_place(fitted, dataset, sequences, seed)
    return fitted


def fit_in_place(model: RWAE, dataset, sequences: int = 4000, seed: int = 0) -> None:
    """Fit the mixture of a model built with model.dynamic_start_components > 0 (as training does
    at its end)."""
    codes = first_dynamic_codes(model, dataset, spread_indices(len(dataset), sequences), seed=seed)
    fit_to_codes(model, codes, seed)


def fit_to_codes(model: RWAE, codes: torch.Tensor, seed: int = 0) -> None:
    """Fit the mixture of a model built with model.dynamic_start_components > 0 to first codes
    (N, dynamic_dim) already encoded (`first_dynamic_codes`)."""
    components = model.config.dynamic_start_components
    weights, means, scale_tril = fit_gaussian_mixture(codes, min(components, len(codes)), seed=seed)
    if len(weights) < components:  # fewer codes than components: the rest get no weight
        pad = components - len(weights)
        weights = torch.cat([weights, weights.new_zeros(pad)])
        means = torch.cat([means, means.new_zeros(pad, means.shape[1])])
        eye = torch.eye(means.shape[1]).expand(pad, -1, -1)
        scale_tril = torch.cat([scale_tril, eye])
    device = model.device
    model.generative.set_dynamic_start(weights.to(device), means.to(device), scale_tril.to(device))
