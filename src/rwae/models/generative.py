"""The generative model p (paper Fig. 1a, 1c): priors over the codes and the decoder.

p(z^c) = N(0, I); p(z^m_t | z^m_<t (, a)) is an LSTM over z^m_{t-1} (z^m_0 = 0) with Gaussian
heads, its first step for generation optionally a Gaussian mixture fitted to the training codes'
z^m_1 after training (dynamic_start_components > 0; until fitted, the LSTM's own); p(a) is the action code's own marginal over the training data (a running mean of q(a | x),
so that generation never draws a category the encoder does not use). The decoder maps [z^c, z^m_t (, a)] to x_t, through an LSTM
over time (decoder=lstm, Fig. 1a) or frame by frame (decoder=frame); or (decoder=translate, images)
it draws one canvas per sequence from z^c (, a) and moves it in each frame by a shift read from z^m_t,
so z^m can say where, never what.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rwae.config import ModelConfig
from rwae.errors import RWAEError
from rwae.models.mixture import sample_mixture
from rwae.models.networks import ConvFrameDecoder, GaussianHead, mlp, reparameterize, translate

LSTMState = tuple[torch.Tensor, torch.Tensor]


class GenerativeModel(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = c = config
        h, num_actions = c.hidden_dim, c.num_actions or 0
        self.prior_lstm = nn.LSTM(c.dynamic_dim + num_actions, h, batch_first=True)
        self.prior_head = GaussianHead(h, c.dynamic_dim)
        if num_actions:  # p(a): updated in training by `track_action_marginal`
            self.register_buffer("action_marginal", torch.full((num_actions,), 1.0 / num_actions))
        if c.dynamic_start_components:  # set by `set_dynamic_start`; all-zero weights: not fitted
            k, dm = c.dynamic_start_components, c.dynamic_dim
            self.register_buffer("dynamic_start_weights", torch.zeros(k))
            self.register_buffer("dynamic_start_means", torch.zeros(k, dm))
            self.register_buffer(
                "dynamic_start_scale_tril", torch.eye(dm).expand(k, dm, dm).clone()
            )
        code_dim = c.static_dim + c.dynamic_dim + num_actions
        if c.decoder == "lstm":
            self.decoder_lstm = nn.LSTM(code_dim, h, batch_first=True)
        elif c.decoder == "translate":  # the canvas from z^c (, a); each frame's shift from z^m_t
            self.canvas_mlp = nn.Sequential(
                nn.Linear(c.static_dim + num_actions, h), nn.LeakyReLU(0.2)
            )
            self.shift_head = mlp(c.dynamic_dim, h, 2)
        else:
            self.decoder_mlp = nn.Sequential(nn.Linear(code_dim, h), nn.LeakyReLU(0.2))
        if c.is_image:
            channels, side, _ = c.frame_shape
            self.frame_decoder = ConvFrameDecoder(h, channels, side, c.conv_width)
        else:
            self.frame_decoder = mlp(h, h, c.frame_shape[0])

    @property
    def device(self) -> torch.device:
        return self.prior_head.linear.weight.device

    def prior(
        self, z_prev: torch.Tensor, a: torch.Tensor | None, state: LSTMState | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        """p(z^m_t | z^m_<t (, a)) given z^m_{t-1} (B, L, dm): means, log-variances (B, L, dm), state."""
        if a is not None:  # (B, A) -> (B, L, A) beside each step's input
            z_prev = torch.cat([z_prev, a.unsqueeze(1).expand(-1, z_prev.shape[1], -1)], -1)
        out, state = self.prior_lstm(z_prev, state)
        mu, logvar = self.prior_head(out)
        return mu, logvar, state

    @property
    def dynamic_start_fitted(self) -> bool:
        return bool(self.config.dynamic_start_components) and bool(
            self.dynamic_start_weights.sum() > 0
        )

    def sample_static(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z^c ~ N(0, I): (n, static_dim)."""
        return torch.randn(n, self.config.static_dim, generator=generator, device=self.device)

    @torch.no_grad()
    def set_dynamic_start(
        self, weights: torch.Tensor, means: torch.Tensor, scale_tril: torch.Tensor
    ) -> None:
        """Draw z^m_1 from the mixture (K,), (K, dm), (K, dm, dm) when generating."""
        if not self.config.dynamic_start_components:
            raise RWAEError(
                "this model has no dynamic start mixture (model.dynamic_start_components)"
            )
        self.dynamic_start_weights.copy_(weights)
        self.dynamic_start_means.copy_(means)
        self.dynamic_start_scale_tril.copy_(scale_tril)

    def sample_actions(
        self, n: int, generator: torch.Generator | None = None, action: int | None = None
    ) -> torch.Tensor | None:
        """a ~ p(a) (or the category `action` for all n), one-hot (n, A); None without an action
        code."""
        num_actions = self.config.num_actions
        if not num_actions:
            if action is not None:
                raise RWAEError("generation by action needs a model with an action code")
            return None
        if action is not None:
            if not 0 <= action < num_actions:
                raise RWAEError(f"action must be in 0..{num_actions - 1}, got {action}")
            idx = torch.full((n,), action, device=self.device)
        else:
            idx = torch.multinomial(self.action_marginal, n, replacement=True, generator=generator)
        return F.one_hot(idx, num_actions).float()

    @torch.no_grad()
    def track_action_marginal(self, action_logits: torch.Tensor, rate: float = 0.01) -> None:
        """Move p(a) toward the batch's mean q(a | x)."""
        self.action_marginal.lerp_(torch.softmax(action_logits.float(), -1).mean(0), rate)

    def sample_dynamics(
        self,
        n: int,
        length: int,
        a: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        fitted_start: bool = True,
    ) -> torch.Tensor:
        """z^m_1..length from the learned autoregressive prior, z^m_1 from the fitted start mixture
        when there is one (unless not `fitted_start`, as the disentanglement protocol draws):
        (n, length, dynamic_dim)."""
        z = torch.zeros(n, 1, self.config.dynamic_dim, device=self.device)
        start = fitted_start and self.dynamic_start_fitted
        state, zs = None, []
        for t in range(length):
            mu, logvar, state = self.prior(z, a, state)
            if t == 0 and start:
                z = sample_mixture(
                    n,
                    self.dynamic_start_weights,
                    self.dynamic_start_means,
                    self.dynamic_start_scale_tril,
                    generator,
                ).to(mu.dtype)[:, None]  # (n, dm) -> (n, 1, dm)
            else:
                z = reparameterize(mu, logvar, generator)
            zs.append(z)
        return torch.cat(zs, 1)

    def decode_logits(
        self, z_static: torch.Tensor, z_dynamic: torch.Tensor, a: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Codes -> frame logits (B, T, ...) (images: before the sigmoid)."""
        b, t, _ = z_dynamic.shape
        if self.config.num_actions and a is None:
            raise RWAEError("this model has an action code: pass a (B, num_actions) to decode")
        static = z_static if a is None else torch.cat([z_static, a], -1)  # (B, static (+ A))
        if self.config.decoder == "translate":
            canvas = self.frame_decoder(self.canvas_mlp(static))  # (B, C, S, S), once per sequence
            shift = torch.tanh(self.shift_head(z_dynamic))  # (B, T, 2), at most half the frame
            canvases = canvas.repeat_interleave(t, 0)  # (B, C, S, S) -> (B*T, C, S, S)
            return translate(canvases, shift.flatten(0, 1)).unflatten(0, (b, t))
        parts = [z_static.unsqueeze(1).expand(-1, t, -1), z_dynamic]
        if a is not None:
            parts.append(a.unsqueeze(1).expand(-1, t, -1))
        codes = torch.cat(parts, -1)  # (B, T, static + dynamic (+ A))
        if self.config.decoder == "lstm":
            h = self.decoder_lstm(codes)[0]
        else:
            h = self.decoder_mlp(codes)
        return self.frame_decoder(h.flatten(0, 1)).unflatten(0, (b, t))  # (B*T, ...) -> (B, T, ...)
