"""The R-WAE model (Han et al., ICLR 2021; DESIGN.md §1): one class; DSVAE is its `kl` configuration.

It assembles three parts and holds the user API:
- `inference` (models/inference.py): q(z^c | x), q(z^m_t | x, z^m_<t) and, with weak supervision,
  q(a | z^m_1..T);
- `generative` (models/generative.py): the priors p(z^c), p(z^m_t | z^m_<t (, a)) and the decoder;
- `objective` (losses/objective.py): the loss terms, and the latent critic of the `gan` penalty.

Shapes: x is (B, T, C, H, W) for images or (B, T, D) for features; z^c is (B, static_dim);
z^m is (B, T, dynamic_dim); the action code a is (B, num_actions).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rwae.config import ModelConfig
from rwae.errors import RWAEError
from rwae.losses.objective import Objective, RWAEOutput, previous_codes
from rwae.models import pretrained
from rwae.models.generative import GenerativeModel
from rwae.models.inference import EncoderOutput, InferenceModel
from rwae.models.networks import reparameterize


class RWAE(nn.Module):
    """Recurrent Wasserstein autoencoder with a static code z^c and dynamic codes z^m_1..T."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.inference = InferenceModel(config)
        self.generative = GenerativeModel(config)
        self.objective = Objective(config)

    # ------------------------------------------------------------------ training
    def forward(self, x: torch.Tensor) -> RWAEOutput:
        """One training pass over x (B, T, ...): every loss term of DESIGN.md §1.3."""
        post = self.encode(x)
        # The prior, teacher-forced on the posterior's codes z^m_<t, gives p(z^m_t | z^m_<t). Fitted
        # by likelihood, it sees the codes without gradient and its samples give the encoder's D
        # no gradient into ψ.
        by_likelihood = self.config.prior_fit == "likelihood"
        action = post.action
        if action is not None and self.config.action_head_learns != "all":
            # the decoder and the prior read a; only the code's penalty trains the head
            action = action.detach()
        z_dynamic, prior_action = post.dynamic, action
        if by_likelihood:
            z_dynamic = z_dynamic.detach()
            prior_action = None if action is None else action.detach()
        prior_mu, prior_logvar, _ = self.generative.prior(previous_codes(z_dynamic), prior_action)
        prior_z = reparameterize(prior_mu, prior_logvar)
        if by_likelihood:
            prior_z = prior_z.detach()
        logits = self.generative.decode_logits(post.static, post.dynamic, action)
        recovery = None
        if post.action_logits is not None:
            if self.training:
                self.generative.track_action_marginal(post.action_logits)
            if self.config.action_recovery > 0:
                recovery = self.action_recovery(post.static.detach(), x.shape[1])
        return self.objective(x, logits, post, prior_mu, prior_logvar, prior_z, recovery)

    def action_recovery(self, z_static: torch.Tensor, length: int) -> torch.Tensor:
        """InfoGAN's recovery term: draw a uniformly over all A categories, generate z^m from the
        prior given a and decode it with z_static (B, static_dim); the cross-entropy of the
        encoder's q(a | x̂) against a. It makes the prior and the decoder use every category."""
        n, num_actions = z_static.shape[0], self.config.num_actions
        target = torch.randint(num_actions, (n,), device=z_static.device)
        a = F.one_hot(target, num_actions).float()
        z_dynamic = self.generative.sample_dynamics(n, length, a)
        x_hat = self.decode(z_static, z_dynamic, a)
        return F.cross_entropy(self.inference.action_logits_of(x_hat), target)

    def update_schedules(self, step: int) -> None:
        """Set what changes over training: the Gumbel-softmax temperature, the KL price on z^c and
        the prior pull."""
        self.inference.set_step(step)
        self.objective.set_step(step)

    def critic_parameters(self) -> list[nn.Parameter]:
        """The latent discriminators' weights (trained by their own optimizer); empty without gan."""
        return list(self.objective.critic.parameters()) if self.config.uses_gan else []

    def generator_parameters(self) -> list[nn.Parameter]:
        """Everything but the latent discriminators."""
        critic = {id(p) for p in self.critic_parameters()}
        return [p for p in self.parameters() if id(p) not in critic]

    def set_channels_last(self, enabled: bool = True) -> RWAE:
        """Use channels_last convolutions (faster on recent CPUs)."""
        if self.config.is_image:
            fmt = torch.channels_last if enabled else torch.contiguous_format
            for module in self.modules():
                if hasattr(module, "channels_last"):  # the conv frame encoders and decoder
                    module.to(memory_format=fmt)
                    module.channels_last = enabled
        return self

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ------------------------------------------------------------------ codes and frames
    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> EncoderOutput:
        """Posterior means and samples of z^c, z^m (and a) for x of shape (B, T, ...)."""
        expected = tuple(self.config.frame_shape)
        if x.dim() != 2 + len(expected) or tuple(x.shape[2:]) != expected:
            raise RWAEError(
                f"expected input of shape (B, T, {', '.join(map(str, expected))}), got {tuple(x.shape)}"
            )
        return self.inference(x, generator)

    def decode(
        self, z_static: torch.Tensor, z_dynamic: torch.Tensor, a: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Codes -> sequences (B, T, ...): images in [0, 1], features as they are."""
        out = self.generative.decode_logits(z_static, z_dynamic, a).float()
        return torch.sigmoid(out) if self.config.is_image else out

    # ------------------------------------------------------------------ using a trained model
    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior means of x."""
        post = self.encode(x)
        return self.decode(post.static_mean, post.dynamic_mean, post.action)

    @torch.no_grad()
    def generate(
        self,
        n: int,
        length: int,
        generator: torch.Generator | None = None,
        action: int | None = None,
    ) -> torch.Tensor:
        """Samples (n, length, ...): z^c ~ N(0, I), a ~ p(a) (or the category `action`, for a model
        with an action code), z^m from the prior given a."""
        prior = self.generative
        a = prior.sample_actions(n, generator, action)
        z_c = prior.sample_static(n, generator)
        return self.decode(z_c, prior.sample_dynamics(n, length, a, generator), a)

    @torch.no_grad()
    def swap(self, x_static: torch.Tensor, x_dynamic: torch.Tensor) -> torch.Tensor:
        """Static code of each x_static sequence with the dynamics (and action) of x_dynamic's."""
        s, d = self.encode(x_static), self.encode(x_dynamic)
        return self.decode(s.static_mean, d.dynamic_mean, d.action)

    @torch.no_grad()
    def resample_static(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Keep the dynamics (posterior means) of x, draw z^c from the prior."""
        post = self.encode(x)
        z_c = self.generative.sample_static(x.shape[0], generator)
        return self.decode(z_c, post.dynamic_mean, post.action)

    @torch.no_grad()
    def resample_dynamics(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Keep z^c (posterior mean) of x, draw a and z^m from the priors (the learned prior's own
        first step: the prior the encoder was trained against)."""
        post = self.encode(x)
        a = self.generative.sample_actions(x.shape[0], generator)
        z_m = self.generative.sample_dynamics(x.shape[0], x.shape[1], a, generator, False)
        return self.decode(post.static_mean, z_m, a)

    @torch.no_grad()
    def interpolate(
        self, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 8, factor: str = "static"
    ) -> torch.Tensor:
        """Decode codes moved linearly from x_a's to x_b's: (steps, B, T, ...).

        factor: "static" (z^c moves, x_a's dynamics kept), "dynamic" (z^m moves), or "both".
        """
        if factor not in ("static", "dynamic", "both"):
            raise RWAEError(
                f"interpolate: factor must be 'static', 'dynamic' or 'both', got {factor!r}"
            )
        pa, pb = self.encode(x_a), self.encode(x_b)
        frames = []
        for w in torch.linspace(0, 1, steps).tolist():
            zc, zm = pa.static_mean, pa.dynamic_mean
            if factor != "dynamic":
                zc = torch.lerp(pa.static_mean, pb.static_mean, w)
            if factor != "static":
                zm = torch.lerp(pa.dynamic_mean, pb.dynamic_mean, w)
            frames.append(self.decode(zc, zm, pa.action))
        return torch.stack(frames)

    # ------------------------------------------------------------------ files
    def save_pretrained(
        self,
        directory: str | os.PathLike,
        *,
        is_main_process: bool = True,
        training_data: dict | None = None,
        dtype: torch.dtype | None = None,
    ) -> Path:
        """Write config.json and model.safetensors into `directory` (atomically; rank 0 only).

        training_data: the data the model was trained on (name, options, splits), kept in
        config.json so that evaluation finds the matching test split.
        dtype: store floating-point weights in this dtype (torch.float16 halves the file);
        `from_pretrained` casts them back to float32.
        """
        if not is_main_process:
            return Path(directory)
        return pretrained.save(self, directory, training_data=training_data, dtype=dtype)

    @classmethod
    def from_pretrained(
        cls, directory: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> RWAE:
        """A model from `save_pretrained` output, a run folder, or a shipped model's name:
        `RWAE.from_pretrained("default")`."""
        return pretrained.load(cls, directory, map_location)
