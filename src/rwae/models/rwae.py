"""The R-WAE model (DESIGN.md §1): one class; DSVAE is its `kl` configuration.

Shapes: x is (B, T, C, H, W) for images or (B, T, D) for features; z^c is (B, static_dim);
z^m is (B, T, dynamic_dim); the action code a is (B, num_actions).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rwae._version import __version__
from rwae.config import ConfigError, ModelConfig, from_dict
from rwae.errors import RWAEError
from rwae.losses import categorical_information_penalty, hsic, kl_normal, mmd
from rwae.models.networks import (
    ConvFrameDecoder,
    ConvFrameEncoder,
    GaussianHead,
    LatentCritic,
    PooledFrameEncoder,
    mlp,
)
from rwae.models.pretrained import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    find_model_dir,
    is_shipped_name,
    resolve_model_dir,
)

FORMAT_VERSION = 1


@dataclass
class EncoderOutput:
    """Posterior of a batch: means, log-variances and samples of z^c, z^m (and the action code)."""

    static_mean: torch.Tensor  # (B, static_dim)
    static_logvar: torch.Tensor
    static: torch.Tensor  # a sample (equal to the mean for a deterministic encoder)
    dynamic_mean: torch.Tensor  # (B, T, dynamic_dim), each step fed the previous mean
    dynamic_logvar: torch.Tensor
    dynamic: torch.Tensor  # a sample path, each step fed the previous sample
    action_logits: torch.Tensor | None = None  # (B, num_actions)
    action: torch.Tensor | None = None  # relaxed one-hot (training) or one-hot of the argmax (eval)


@dataclass
class RWAEOutput:
    """Everything one training forward pass computes; `loss` trains the model, `critic_loss` the
    latent discriminators (zero without a `gan` penalty)."""

    loss: torch.Tensor
    critic_loss: torch.Tensor
    recon_loss: torch.Tensor
    static_penalty: torch.Tensor
    dynamic_penalty: torch.Tensor
    action_penalty: torch.Tensor
    x_recon: torch.Tensor  # of the batch trained on (with pair_augment: the pairs, not the input)
    posterior: EncoderOutput
    dynamic_prior_sample: (
        torch.Tensor
    )  # (B, T, dynamic_dim): ẑ^m_t drawn from p(z^m_t | posterior z^m_<t)
    losses: dict[str, torch.Tensor] = field(
        default_factory=dict
    )  # every term, detached, for logging


def independence_pairs(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples of the joint q(a, b) and of the product q(a) q(b) for an MMD test of independence.

    The first half of the batch gives the joint pairs (a_i, b_i); the product pairs (a_i, b_j) take b
    from the second half. A shuffled copy of the same batch would not do: its pair (a_j, b_i) shares b_i
    with the joint pair (a_i, b_i), the U-statistic does not leave such pairs out, and the estimate is
    biased below zero — a minimiser is rewarded for that, not for independence.
    """
    half = a.shape[0] // 2
    if half < 2:
        raise RWAEError(
            f"the independence penalty needs a batch of at least 4 sequences, got {a.shape[0]}"
        )
    joint = torch.cat([a[:half], b[:half]], -1)
    product = torch.cat([a[:half], b[half : 2 * half].roll(1, 0)], -1)
    return joint, product


# The five orders of the RGB channels other than the identity.
COLOR_PERMUTATIONS = torch.tensor([[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])


def color_pairs(x: torch.Tensor) -> torch.Tensor:
    """(B, T, 3, H, W) -> (B, ...): the first half of x, then the same sequences with their RGB
    channels reordered (one random non-identity order per sequence, the same for all its frames).
    The copies keep the motion and change the colors: the pairs of `pair_augment=color`."""
    half = x.shape[0] // 2
    if half < 2:
        raise RWAEError(f"pair_augment needs a batch of at least 4 sequences, got {x.shape[0]}")
    first = x[:half]
    pick = torch.randint(len(COLOR_PERMUTATIONS), (half,))
    order = COLOR_PERMUTATIONS[pick].to(x.device)[:, None, :, None, None]  # (half, 1, 3, 1, 1)
    return torch.cat([first, first.gather(2, order.expand_as(first))])


def swap_halves(z: torch.Tensor | None) -> torch.Tensor | None:
    """Exchange the two halves of a batch (each sequence gets its partner's codes)."""
    if z is None:
        return None
    half = z.shape[0] // 2
    return torch.cat([z[half : 2 * half], z[:half]])


# residual_mask: a pixel "moves" when its color differs from its sequence mean by more than this
# (summed over channels, pixels in [0, 1]); far below the contrast of any Sprites layer
MASK_THRESHOLD = 0.05


class RWAE(nn.Module):
    """Recurrent Wasserstein autoencoder with a static code z^c and dynamic codes z^m_1..T."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if not config.stochastic_encoder and "kl" in (
            config.static_penalty,
            config.dynamic_penalty,
        ):
            raise ConfigError(
                "model: the kl penalty needs a Gaussian encoder (stochastic_encoder: true)"
            )
        self.config = c = config
        h = c.hidden_dim
        num_actions = c.num_actions or 0
        if c.is_image:
            channels, side, _ = c.frame_shape
            self.frame_encoder = ConvFrameEncoder(channels, side, c.conv_width, c.frame_dim, c.norm)
        else:
            self.frame_encoder = mlp(c.frame_shape[0], h, c.frame_dim)
        # Inference (Fig. 1b, 1d): bi-LSTM -> z^c; a recurrent cell over [h_t, z^m_{t-1}] -> z^m_t.
        self.encoder_lstm = nn.LSTM(c.frame_dim, h, batch_first=True, bidirectional=True)
        if c.static_input == "pooled":
            self.static_pooled = PooledFrameEncoder(c.frame_shape[0], c.conv_width, 2 * h)
        self.static_head = GaussianHead(2 * h, c.static_dim, c.static_logvar_floor)
        if c.dynamic_input != "frames":  # its own encoder over frame residuals
            if c.is_image:
                channels = c.frame_shape[0] if c.dynamic_input == "residual" else 1
                self.dynamic_frame_encoder = ConvFrameEncoder(
                    channels, c.frame_shape[1], c.conv_width, c.frame_dim, c.norm
                )
            else:
                self.dynamic_frame_encoder = mlp(c.frame_shape[0], h, c.frame_dim)
            self.dynamic_lstm = nn.LSTM(c.frame_dim, h, batch_first=True, bidirectional=True)
        self.dynamic_cell = nn.LSTMCell(2 * h + c.dynamic_dim, h)
        self.dynamic_head = GaussianHead(h, c.dynamic_dim)
        if num_actions:
            self.action_encoder = nn.GRU(c.dynamic_dim, h, batch_first=True)
            self.action_head = nn.Linear(h, num_actions)
        # Generative model (Fig. 1a, 1c): autoregressive LSTM prior over z^m, decoder.
        self.prior_lstm = nn.LSTM(c.dynamic_dim + num_actions, h, batch_first=True)
        self.prior_head = GaussianHead(h, c.dynamic_dim)
        code_dim = c.static_dim + c.dynamic_dim + num_actions
        if c.decoder == "lstm":
            self.decoder_lstm = nn.LSTM(code_dim, h, batch_first=True)
            decoder_in = h
        else:
            self.decoder_mlp = nn.Sequential(nn.Linear(code_dim, h), nn.LeakyReLU(0.2))
            decoder_in = h
        if c.is_image:
            channels, side, _ = c.frame_shape
            self.frame_decoder = ConvFrameDecoder(decoder_in, channels, side, c.conv_width, c.norm)
        else:
            self.frame_decoder = mlp(decoder_in, h, c.frame_shape[0])
        if c.uses_gan:
            self.critic = LatentCritic(
                c.static_dim if c.static_penalty == "gan" else None,
                2 * c.dynamic_dim if c.dynamic_penalty == "gan" else None,
                c.critic_hidden,
            )
        self.register_buffer("gumbel_temperature", torch.tensor(float(c.gumbel_temperature)))
        self.update_schedules(0)  # sets static_kl_weight, the KL price on z^c at a step
        # Set by the trainer under DDP with train.global_mmd: gathers codes from all ranks (dim 0).
        self.gather_codes: Callable[[torch.Tensor], torch.Tensor] | None = None

    # ------------------------------------------------------------------ utilities
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def generator_parameters(self) -> list[nn.Parameter]:
        """Everything but the latent discriminators (those have their own optimizer)."""
        critic = {id(p) for p in self.critic.parameters()} if self.config.uses_gan else set()
        return [p for p in self.parameters() if id(p) not in critic]

    def set_channels_last(self, enabled: bool = True) -> RWAE:
        """Use channels_last convolutions (faster under bf16 on recent CPUs)."""
        if self.config.is_image:
            fmt = torch.channels_last if enabled else torch.contiguous_format
            modules = [self.frame_encoder, self.frame_decoder]
            if self.config.dynamic_input != "frames":
                modules.append(self.dynamic_frame_encoder)
            for module in modules:
                module.to(memory_format=fmt)
                module.channels_last = enabled
        return self

    def update_schedules(self, step: int) -> None:
        """Set what changes over training: the Gumbel-softmax temperature, max(min, start *
        exp(-rate * step)), and the KL price on z^c."""
        c = self.config
        tau = max(
            c.gumbel_temperature_min, c.gumbel_temperature * math.exp(-c.gumbel_anneal_rate * step)
        )
        self.gumbel_temperature.fill_(tau)
        warm = step < c.static_kl_warm_steps
        self.static_kl_weight = c.static_kl_warm_beta if warm else c.beta_static_kl

    def _check_input(self, x: torch.Tensor) -> None:
        expected = tuple(self.config.frame_shape)
        if x.dim() != 2 + len(expected) or tuple(x.shape[2:]) != expected:
            raise RWAEError(
                f"expected input of shape (B, T, {', '.join(map(str, expected))}), got {tuple(x.shape)}"
            )

    @staticmethod
    def _sample(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + eps * (0.5 * logvar).exp()

    # ------------------------------------------------------------------ inference
    def _frame_features(self, x: torch.Tensor, encoder: nn.Module | None = None) -> torch.Tensor:
        b, t = x.shape[:2]
        encoder = self.frame_encoder if encoder is None else encoder
        return encoder(x.flatten(0, 1)).unflatten(0, (b, t))  # (B*T, ...) -> (B, T, F)

    def _dynamic_features(self, x: torch.Tensor) -> torch.Tensor:
        """Bi-LSTM states (B, T, 2H) of the dynamic path over frame residuals x_t - mean_t(x)."""
        residual = x - x.mean(1, keepdim=True)  # (B, T, ...): what moves
        if self.config.dynamic_input == "residual_gray":
            residual = residual.mean(2, keepdim=True)  # (B, T, C, S, S) -> (B, T, 1, S, S)
        elif self.config.dynamic_input == "residual_mask":  # (B, T, C, S, S) -> (B, T, 1, S, S)
            residual = (residual.abs().sum(2, keepdim=True) > MASK_THRESHOLD).to(x.dtype)
        hs, _ = self.dynamic_lstm(self._frame_features(residual, self.dynamic_frame_encoder))
        return hs

    def _static_posterior(
        self, x: torch.Tensor, e: torch.Tensor, h_n: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """z^c's Gaussian from [forward state at T, backward state at 1] of the bi-LSTM, or from the
        pooled patch features (static_input=pooled)."""
        mode = self.config.static_input
        if mode == "pooled":  # what the frames hold, averaged over positions and time
            b, t = x.shape[:2]
            pooled = self.static_pooled(x.flatten(0, 1)).unflatten(
                0, (b, t)
            )  # (B*T, 2H) -> (B, T, 2H)
            return self.static_head(F.leaky_relu(pooled.mean(1), 0.2))
        if mode == "shuffled" and self.training:
            order = torch.rand(e.shape[:2], device=e.device).argsort(
                1
            )  # a random order per sequence
            _, (h_n, _) = self.encoder_lstm(e.gather(1, order.unsqueeze(-1).expand_as(e)))
        elif mode == "random_frame":
            b, t, f = e.shape
            if self.training:  # one random frame per sequence
                pick = torch.randint(t, (b,), device=e.device)
                _, (h_n, _) = self.encoder_lstm(e[torch.arange(b), pick].unsqueeze(1))
            else:  # evaluation: average the single-frame posteriors of all frames
                _, (h_n, _) = self.encoder_lstm(e.reshape(b * t, 1, f))  # (B, T, F) -> (B*T, 1, F)
                mu, logvar = self.static_head(torch.cat([h_n[0], h_n[1]], -1))
                return mu.unflatten(0, (b, t)).mean(1), logvar.unflatten(0, (b, t)).mean(1)
        return self.static_head(torch.cat([h_n[0], h_n[1]], -1))

    def _dynamic_posterior(
        self, hs: torch.Tensor, feed: str, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run q(z^m_t | h_t, z^m_{t-1}); `feed` is "sample" or "mean" (what z^m_{t-1} is)."""
        b, t, _ = hs.shape
        z = hs.new_zeros(b, self.config.dynamic_dim, dtype=torch.float32)
        state = None
        mus, logvars, zs = [], [], []
        for step in range(t):
            state = self.dynamic_cell(torch.cat([hs[:, step], z.to(hs.dtype)], -1), state)
            mu, logvar = self.dynamic_head(state[0])
            sample = self._sample(mu, logvar, generator) if self.config.stochastic_encoder else mu
            z = sample if feed == "sample" else mu
            mus.append(mu)
            logvars.append(logvar)
            zs.append(sample)
        return torch.stack(mus, 1), torch.stack(logvars, 1), torch.stack(zs, 1)

    def _action(
        self, z_dynamic: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """q(a | z^m_1..T): logits (B, A) and the code fed to the decoder and prior."""
        _, h = self.action_encoder(z_dynamic)
        logits = self.action_head(h[-1]).float()
        if self.training:
            u = torch.rand(logits.shape, generator=generator, device=logits.device).clamp(
                1e-10, 1 - 1e-10
            )
            a = torch.softmax((logits - torch.log(-torch.log(u))) / self.gumbel_temperature, -1)
        else:
            a = F.one_hot(logits.argmax(-1), logits.shape[-1]).float()
        return logits, a

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> EncoderOutput:
        """Posterior means and samples of z^c, z^m (and a) for x of shape (B, T, ...)."""
        self._check_input(x)
        e = self._frame_features(x)
        hs, (h_n, _) = self.encoder_lstm(e)  # hs: (B, T, 2H)
        mu_c, logvar_c = self._static_posterior(x, e, h_n)
        z_c = self._sample(mu_c, logvar_c, generator) if self.config.stochastic_encoder else mu_c
        if self.config.dynamic_input != "frames":
            hs = self._dynamic_features(x)
        mu_m, logvar_m, z_m = self._dynamic_posterior(hs, "sample", generator)
        if not self.training and self.config.stochastic_encoder:  # means along the mean path
            mu_m, logvar_m, _ = self._dynamic_posterior(hs, "mean")
        logits = a = None
        if self.config.num_actions:
            logits, a = self._action(z_m if self.training else mu_m, generator)
        return EncoderOutput(mu_c, logvar_c, z_c, mu_m, logvar_m, z_m, logits, a)

    # ------------------------------------------------------------------ generation
    def prior_step(self, z_prev: torch.Tensor, a: torch.Tensor | None, state=None):
        """One step of p(z^m_t | z^m_<t (, a)): inputs (B, L, dm) -> Gaussian params (B, L, dm), state."""
        inp = (
            z_prev
            if a is None
            else torch.cat([z_prev, a.unsqueeze(1).expand(-1, z_prev.shape[1], -1)], -1)
        )
        out, state = self.prior_lstm(inp, state)
        mu, logvar = self.prior_head(out)
        return mu, logvar, state

    def sample_dynamics(
        self,
        n: int,
        length: int,
        a: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw z^m_1..T from the learned autoregressive prior: (n, length, dynamic_dim)."""
        z = torch.zeros(n, 1, self.config.dynamic_dim, device=self.device)
        state, zs = None, []
        for _ in range(length):
            mu, logvar, state = self.prior_step(z, a, state)
            z = self._sample(mu, logvar, generator)
            zs.append(z)
        return torch.cat(zs, 1)

    def sample_static(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.static_dim, generator=generator, device=self.device)

    def sample_actions(
        self, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor | None:
        if not self.config.num_actions:
            return None
        idx = torch.randint(self.config.num_actions, (n,), generator=generator, device=self.device)
        return F.one_hot(idx, self.config.num_actions).float()

    def _decode_logits(
        self, z_static: torch.Tensor, z_dynamic: torch.Tensor, a: torch.Tensor | None = None
    ) -> torch.Tensor:
        b, t, _ = z_dynamic.shape
        if self.config.center_dynamics:  # a constant (static) component of z^m cannot reach x
            z_dynamic = z_dynamic - z_dynamic.mean(1, keepdim=True)
        parts = [z_static.unsqueeze(1).expand(-1, t, -1), z_dynamic]
        if self.config.num_actions:
            if a is None:
                raise RWAEError("this model has an action code: pass a (B, num_actions) to decode")
            parts.append(a.unsqueeze(1).expand(-1, t, -1))
        codes = torch.cat(parts, -1)  # (B, T, static + dynamic (+ A))
        h = (
            self.decoder_lstm(codes)[0]
            if self.config.decoder == "lstm"
            else self.decoder_mlp(codes)
        )
        return self.frame_decoder(h.flatten(0, 1)).unflatten(0, (b, t))  # (B*T, ...) -> (B, T, ...)

    def decode(
        self, z_static: torch.Tensor, z_dynamic: torch.Tensor, a: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Codes -> sequences (B, T, ...): images in [0, 1], features as they are."""
        out = self._decode_logits(z_static, z_dynamic, a).float()
        return torch.sigmoid(out) if self.config.is_image else out

    # ------------------------------------------------------------------ training forward
    def _mmd(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """MMD between code batches (B, ...) -> (...); over all ranks' codes when gather_codes is set."""
        if self.gather_codes is not None:
            x, y = self.gather_codes(x), self.gather_codes(y)
        x, y = x.movedim(0, -2), y.movedim(0, -2)  # batch next to last: (..., B, d)
        return mmd(x, y, **self._kernel_options())

    def _kernel_options(self) -> dict:
        c = self.config
        return {"kernel_name": c.kernel, "scales": c.kernel_scales, "bandwidth": c.kernel_bandwidth}

    def _independence(self, z_static: torch.Tensor, z_dynamic: torch.Tensor) -> torch.Tensor:
        """The z^c ⟂ z^m_1..T penalty on codes (B, dc) and (B, T * dm)."""
        if self.config.independence_estimator == "halves":
            return self._mmd(*independence_pairs(z_static, z_dynamic))
        if self.gather_codes is not None:
            z_static, z_dynamic = self.gather_codes(z_static), self.gather_codes(z_dynamic)
        return hsic(z_static, z_dynamic, **self._kernel_options())

    def _critic(self, name: str, z: torch.Tensor, train_critic: bool) -> torch.Tensor:
        """Logits of the static or dynamic discriminator. For the model's loss the discriminator's
        weights are used detached, so that loss never trains the discriminator."""
        net = getattr(self.critic, name)
        if train_critic:
            return net(z.detach()).float()
        params = {k: v.detach() for k, v in net.named_parameters()}
        return torch.func.functional_call(net, params, (z,)).float()

    def _static_penalty(self, post: EncoderOutput) -> tuple[torch.Tensor, torch.Tensor]:
        kind, zero = self.config.static_penalty, post.static.new_zeros(())
        if kind == "kl":
            return kl_normal(post.static_mean, post.static_logvar).mean(), zero
        prior = torch.randn_like(post.static)
        if kind == "mmd":
            return self._mmd(post.static, prior), zero
        gen = F.softplus(
            -self._critic("static", post.static, False)
        ).mean()  # posterior should look like prior
        critic = (
            F.softplus(-self._critic("static", prior, True)).mean()
            + F.softplus(self._critic("static", post.static, True)).mean()
        )
        return gen, critic

    def _dynamic_penalty(
        self, post: EncoderOutput, prior_mu, prior_logvar, prior_z
    ) -> tuple[torch.Tensor, torch.Tensor]:
        kind = self.config.dynamic_penalty
        t = post.dynamic.shape[1]
        if kind == "kl":
            kl = kl_normal(post.dynamic_mean, post.dynamic_logvar, prior_mu, prior_logvar)  # (B, T)
            return kl.sum(1).mean(), post.dynamic.new_zeros(())
        z_prev = F.pad(post.dynamic[:, :-1], (0, 0, 1, 0))  # z^m_0 = 0: (B, T, dm)
        pairs_post = torch.cat([z_prev, post.dynamic], -1)  # (z^m_{t-1}, z^m_t)
        pairs_prior = torch.cat([z_prev, prior_z], -1)  # (z^m_{t-1}, ẑ^m_t)
        if kind == "mmd":
            return self._mmd(pairs_post, pairs_prior).sum(), post.dynamic.new_zeros(())
        post_flat, prior_flat = pairs_post.flatten(0, 1), pairs_prior.flatten(0, 1)
        # The encoder moves posterior pairs toward "prior", the prior moves its pairs toward "posterior".
        gen = (
            F.softplus(-self._critic("dynamic", post_flat, False)).mean()
            + F.softplus(self._critic("dynamic", prior_flat, False)).mean()
        )
        critic = (
            F.softplus(-self._critic("dynamic", prior_flat, True)).mean()
            + F.softplus(self._critic("dynamic", post_flat, True)).mean()
        )
        return t * gen, t * critic

    def reconstruction_loss(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Summed over a frame's elements and over time, averaged over the batch."""
        logits = logits.float()
        if self.config.recon_loss == "bce":
            per_element = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        else:
            pred = torch.sigmoid(logits) if self.config.is_image else logits
            per_element = (pred - x) ** 2
        return per_element.flatten(1).sum(1).mean()

    def forward(self, x: torch.Tensor) -> RWAEOutput:
        """One training pass over x (B, T, ...): every loss term of DESIGN.md §1.3."""
        c = self.config
        paired = self.training and c.pair_augment == "color"
        if paired:
            x = color_pairs(x)
        post = self.encode(x)
        # The prior, teacher-forced on the posterior's codes z^m_<t, gives p(z^m_t | z^m_<t).
        z_prev = F.pad(post.dynamic[:, :-1], (0, 0, 1, 0))  # (B, T, dm) with z^m_0 = 0
        prior_mu, prior_logvar, _ = self.prior_step(z_prev, post.action)
        prior_z = self._sample(prior_mu, prior_logvar)
        if paired:  # own z^c (colors) with the partner's z^m (the same motion)
            logits = self._decode_logits(
                post.static, swap_halves(post.dynamic), swap_halves(post.action)
            )
        else:
            logits = self._decode_logits(post.static, post.dynamic, post.action)
        recon = self.reconstruction_loss(logits, x.float())
        static_pen, critic_static = self._static_penalty(post)
        dynamic_pen, critic_dynamic = self._dynamic_penalty(post, prior_mu, prior_logvar, prior_z)
        zero = recon.new_zeros(())
        action_pen = categorical_information_penalty(post.action_logits) if c.num_actions else zero
        loss = (
            recon
            + c.beta_static * static_pen
            + c.beta_dynamic * dynamic_pen
            + c.beta_action * action_pen
        )
        terms = {"recon": recon, "static": static_pen, "dynamic": dynamic_pen}
        if c.num_actions:
            terms["action"] = action_pen
        if self.static_kl_weight > 0:
            kl = kl_normal(post.static_mean, post.static_logvar)  # (B,) nats per sequence
            terms["static_kl"] = kl.mean()
            # z^c holds up to static_kl_free_nats for free; each nat above costs static_kl_weight
            loss = loss + self.static_kl_weight * F.relu(kl - c.static_kl_free_nats).mean()
        if c.beta_independence > 0:
            terms["independence"] = self._independence(post.static, post.dynamic.flatten(1))
            loss = loss + c.beta_independence * terms["independence"]
        critic_loss = critic_static + critic_dynamic
        if c.uses_gan:
            terms["critic"] = critic_loss
        terms["loss"] = loss
        x_recon = torch.sigmoid(logits.float()) if c.is_image else logits.float()
        return RWAEOutput(
            loss=loss,
            critic_loss=critic_loss,
            recon_loss=recon,
            static_penalty=static_pen,
            dynamic_penalty=dynamic_pen,
            action_penalty=action_pen,
            x_recon=x_recon,
            posterior=post,
            dynamic_prior_sample=prior_z,
            losses={k: v.detach() for k, v in terms.items()},
        )

    # ------------------------------------------------------------------ using a trained model
    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior means of x."""
        post = self.encode(x)
        return self.decode(post.static_mean, post.dynamic_mean, post.action)

    @torch.no_grad()
    def generate(
        self, n: int, length: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Unconditional samples: z^c ~ N(0, I), a ~ uniform, z^m from the learned prior -> (n, length, ...)."""
        a = self.sample_actions(n, generator)
        z_c = self.sample_static(n, generator)
        return self.decode(z_c, self.sample_dynamics(n, length, a, generator), a)

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
        return self.decode(
            self.sample_static(x.shape[0], generator), post.dynamic_mean, post.action
        )

    @torch.no_grad()
    def resample_dynamics(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Keep z^c (posterior mean) of x, draw a and z^m from the priors."""
        post = self.encode(x)
        a = self.sample_actions(x.shape[0], generator)
        z_m = self.sample_dynamics(x.shape[0], x.shape[1], a, generator)
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
            zc = (
                torch.lerp(pa.static_mean, pb.static_mean, w)
                if factor != "dynamic"
                else pa.static_mean
            )
            zm = (
                torch.lerp(pa.dynamic_mean, pb.dynamic_mean, w)
                if factor != "static"
                else pa.dynamic_mean
            )
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

        training_data: optional description of the data the model was trained on (name, options),
        kept in config.json so that evaluation finds the matching test split.
        dtype: store the floating-point weights in this dtype (torch.float16 halves the file);
        `from_pretrained` casts them back to the model's own dtype.
        """
        from safetensors.torch import save_model

        directory = Path(directory)
        if not is_main_process:
            return directory
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "format_version": FORMAT_VERSION,
            "rwae_version": __version__,
            "model": dataclasses.asdict(self.config),
        }
        if training_data is not None:
            config["training_data"] = training_data
        tmp_weights, tmp_config = (
            directory / f".{WEIGHTS_NAME}.tmp",
            directory / f".{CONFIG_NAME}.tmp",
        )
        save_model(self if dtype is None else copy.deepcopy(self).to(dtype), str(tmp_weights))
        tmp_config.write_text(json.dumps(config, indent=2) + "\n")
        os.replace(tmp_weights, directory / WEIGHTS_NAME)
        os.replace(tmp_config, directory / CONFIG_NAME)
        return directory

    @classmethod
    def from_pretrained(
        cls, directory: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> RWAE:
        """Rebuild a model from `save_pretrained` output (config.json + model.safetensors), a run
        folder, or a shipped model's name: `RWAE.from_pretrained("default")`."""
        from safetensors.torch import load_model

        if is_shipped_name(directory):
            directory = resolve_model_dir(directory)
        else:  # a model folder or a run folder; otherwise the checks below name the missing file
            directory = find_model_dir(directory) or Path(directory)
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            if not (directory / name).is_file():
                raise RWAEError(
                    f"{directory / name}: not found; expected a folder written by save_pretrained"
                )
        try:
            meta = json.loads((directory / CONFIG_NAME).read_text())
            config = from_dict(ModelConfig, meta["model"], "model.")
        except (json.JSONDecodeError, KeyError) as e:
            raise RWAEError(f"{directory / CONFIG_NAME}: not an rwae model config ({e})") from e
        if meta.get("format_version", 0) > FORMAT_VERSION:
            raise RWAEError(
                f"{directory}: format version {meta['format_version']} is newer than this rwae reads ({FORMAT_VERSION}); upgrade rwae"
            )
        model = cls(config)
        try:
            load_model(model, str(directory / WEIGHTS_NAME), strict=True, device=str(map_location))
        except Exception as e:  # safetensors raises several types for corrupt or foreign files
            raise RWAEError(
                f"{directory / WEIGHTS_NAME}: cannot load weights into this config ({e})"
            ) from e
        return model.to(map_location).eval()
