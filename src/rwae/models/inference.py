"""The inference model q (paper Fig. 1b, 1d): frames -> z^c, z^m_1..T and, with weak supervision,
the action code a.

Shapes: x is (B, T, C, H, W) for images or (B, T, D) for features; z^c is (B, static_dim); z^m is
(B, T, dynamic_dim); a is (B, num_actions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rwae.config import ModelConfig
from rwae.models.networks import ConvFrameEncoder, GaussianHead, mlp, reparameterize

# dynamic_input=residual_mask: a pixel "moves" when its colour differs from its sequence mean by more
# than this (summed over channels, pixels in [0, 1]); far below the contrast of any Sprites layer
MASK_THRESHOLD = 0.05
# The Gumbel-softmax temperature of the action code: max(MIN, START * exp(-RATE * step)).
GUMBEL_START, GUMBEL_MIN, GUMBEL_RATE = 1.0, 0.5, 1e-4


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
    # (N, num_actions): the remembered sequences' logits (training with model.action_memory)
    memory_action_logits: torch.Tensor | None = None


def frame_encoder(config: ModelConfig, channels: int | None = None) -> nn.Module:
    """x_t -> e_t: a conv stack for images (`channels` overrides the input's), an MLP for features."""
    if config.is_image:
        c, side, _ = config.frame_shape
        return ConvFrameEncoder(channels or c, side, config.conv_width, config.frame_dim)
    return mlp(config.frame_shape[0], config.hidden_dim, config.frame_dim)


def gumbel_temperature(step: int) -> float:
    return max(GUMBEL_MIN, GUMBEL_START * math.exp(-GUMBEL_RATE * step))


class InferenceModel(nn.Module):
    """q(z^c | x_1..T), q(z^m_t | x, z^m_<t) and, with num_actions, q(a | z^m_1..T)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = c = config
        h = c.hidden_dim
        self.frame_encoder = frame_encoder(c)
        self.encoder_lstm = nn.LSTM(c.frame_dim, h, batch_first=True, bidirectional=True)
        self.static_head = GaussianHead(2 * h, c.static_dim)
        if c.dynamic_input != "frames":  # a dynamic path of its own, over what moves
            self.dynamic_frame_encoder = frame_encoder(
                c, 1 if c.dynamic_input == "residual_mask" else None
            )
            self.dynamic_lstm = nn.LSTM(c.frame_dim, h, batch_first=True, bidirectional=True)
        self.dynamic_cell = nn.LSTMCell(2 * h + c.dynamic_dim, h)
        self.dynamic_head = GaussianHead(h, c.dynamic_dim)
        if c.num_actions:
            self.action_encoder = nn.GRU(c.dynamic_dim, h, batch_first=True)
            self.action_head = nn.Linear(h, c.num_actions)
        self.register_buffer("gumbel_temperature", torch.tensor(GUMBEL_START))
        # model.action_memory: the last sequences' head inputs (N, T, dynamic_dim), newest first;
        # training state only (not saved: a resumed run refills it within N / batch steps)
        self.action_memory: torch.Tensor | None = None

    def set_step(self, step: int) -> None:
        self.gumbel_temperature.fill_(gumbel_temperature(step))

    def frame_features(self, x: torch.Tensor, encoder: nn.Module) -> torch.Tensor:
        b, t = x.shape[:2]
        return encoder(x.flatten(0, 1)).unflatten(0, (b, t))  # (B*T, ...) -> (B, T, F)

    def dynamic_features(self, x: torch.Tensor) -> torch.Tensor:
        """Bi-LSTM states (B, T, 2H) of the dynamic path over frame residuals x_t - mean_t(x)."""
        residual = x - x.mean(1, keepdim=True)  # (B, T, ...): what moves
        if self.config.dynamic_input == "residual_mask":  # (B, T, C, S, S) -> (B, T, 1, S, S)
            residual = (residual.abs().sum(2, keepdim=True) > MASK_THRESHOLD).to(x.dtype)
        hs, _ = self.dynamic_lstm(self.frame_features(residual, self.dynamic_frame_encoder))
        return hs

    def dynamic_posterior(
        self, hs: torch.Tensor, feed: str, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run q(z^m_t | h_t, z^m_{t-1}) over hs (B, T, 2H); `feed` ("sample" or "mean") is what
        z^m_{t-1} is. Returns means, log-variances and samples, each (B, T, dynamic_dim)."""
        b, t, _ = hs.shape
        z = hs.new_zeros(b, self.config.dynamic_dim, dtype=torch.float32)  # z^m_0 = 0
        state = None
        mus, logvars, zs = [], [], []
        for step in range(t):
            state = self.dynamic_cell(torch.cat([hs[:, step], z.to(hs.dtype)], -1), state)
            mu, logvar = self.dynamic_head(state[0])
            sample = reparameterize(mu, logvar, generator) if self.config.stochastic_encoder else mu
            z = sample if feed == "sample" else mu
            mus.append(mu)
            logvars.append(logvar)
            zs.append(sample)
        return torch.stack(mus, 1), torch.stack(logvars, 1), torch.stack(zs, 1)

    def action(
        self, z_dynamic: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """q(a | z^m_1..T): logits (B, A) and the code fed to the decoder and prior — a relaxed
        one-hot (Gumbel-softmax) in training, the one-hot of the argmax in evaluation."""
        logits = self.head_logits(z_dynamic)
        if not self.training:
            return logits, F.one_hot(logits.argmax(-1), logits.shape[-1]).float()
        u = torch.rand(logits.shape, generator=generator, device=logits.device)
        gumbel = -torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-10)))
        return logits, torch.softmax((logits + gumbel) / self.gumbel_temperature, -1)

    def action_logits_of(self, x: torch.Tensor) -> torch.Tensor:
        """q(a | x) logits (B, A) from the dynamic path's posterior means (no sampling)."""
        if self.config.dynamic_input != "frames":
            hs = self.dynamic_features(x)
        else:
            hs = self.encoder_lstm(self.frame_features(x, self.frame_encoder))[0]
        return self.head_logits(self.dynamic_posterior(hs, "mean")[0])

    def head_logits(self, z_dynamic: torch.Tensor) -> torch.Tensor:
        """q(a | ·) logits (B, A) of z^m sequences (B, T, dynamic_dim): the GRU, then the head."""
        _, h = self.action_encoder(z_dynamic)
        return self.action_head(h[-1]).float()

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> EncoderOutput:
        """Posterior means and samples of z^c, z^m (and a) for x of shape (B, T, ...)."""
        c = self.config
        hs, (h_n, _) = self.encoder_lstm(self.frame_features(x, self.frame_encoder))  # (B, T, 2H)
        # z^c from [forward state at T, backward state at 1]
        mu_c, logvar_c = self.static_head(torch.cat([h_n[0], h_n[1]], -1))
        z_c = reparameterize(mu_c, logvar_c, generator) if c.stochastic_encoder else mu_c
        if c.dynamic_input != "frames":
            hs = self.dynamic_features(x)
        mu_m, logvar_m, z_m = self.dynamic_posterior(hs, "sample", generator)
        if not self.training and c.stochastic_encoder:  # means along the mean path
            mu_m, logvar_m, _ = self.dynamic_posterior(hs, "mean")
        logits = a = None
        if c.num_actions:
            head_input = mu_m if not self.training else z_m
            if self.training and c.action_head_input == "mean":  # as evaluation reads it
                head_input = self.dynamic_posterior(hs, "mean")[0] if c.stochastic_encoder else mu_m
            if c.action_head_learns == "head":  # the code clusters z^m; it does not move it
                head_input = head_input.detach()
            logits, a = self.action(head_input, generator)
        memory_logits = None
        if self.training and c.action_memory:
            memory_logits = self.remember(head_input.detach())
        return EncoderOutput(mu_c, logvar_c, z_c, mu_m, logvar_m, z_m, logits, a, memory_logits)

    def remember(self, head_input: torch.Tensor) -> torch.Tensor | None:
        """The remembered sequences' logits (N, A), read by the current head, before the batch's
        head input (B, T, dynamic_dim) joins the memory (the oldest leave it)."""
        memory = self.action_memory
        if memory is not None and memory.shape[1:] != head_input.shape[1:]:
            memory = None  # another sequence length: start again
        logits = None if memory is None else self.head_logits(memory.to(head_input.dtype))
        kept = head_input if memory is None else torch.cat([head_input, memory])
        self.action_memory = kept[: self.config.action_memory]
        return logits
