"""The R-WAE objective (DESIGN.md §1.3), given what a forward pass computed:

L = Σ_t c(x_t, x̂_t) + β_c · D(Q(z^c), P(z^c)) + β_m · Σ_t D(Q(z^m_t | z^m_<t), P(z^m_t | z^m_<t))
    [+ β_a · D_a + λ_r · CE(a, q(a | x̂(a)))]  [+ the warm-phase KL price on z^c]
    [+ Σ_t E_q[-log p(z^m_t | z^m_<t)] with prior_fit=likelihood: trains the prior ψ alone]

D is `mmd`, `gan` (latent discriminators, trained by `critic_loss`) or `kl` (the DSVAE baseline).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from rwae.config import ModelConfig
from rwae.losses.categorical import balanced_assignment_loss, categorical_information_penalty
from rwae.losses.critic import LatentCritic
from rwae.losses.gaussian import gaussian_cross_entropy, kl_normal
from rwae.losses.mmd import mmd

if TYPE_CHECKING:
    from rwae.models.inference import EncoderOutput


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
    prior_nll: (
        torch.Tensor
    )  # the dynamic prior's teacher-forced NLL (zero unless prior_fit=likelihood)
    x_recon: torch.Tensor  # (B, T, ...): images in [0, 1], features as they are
    posterior: EncoderOutput
    dynamic_prior_sample: torch.Tensor  # (B, T, dm): ẑ^m_t drawn from p(z^m_t | posterior z^m_<t)
    losses: dict[str, torch.Tensor] = field(default_factory=dict)  # every term, detached


def previous_codes(z_dynamic: torch.Tensor) -> torch.Tensor:
    """(B, T, dm) -> z^m_{t-1} for t = 1..T, with z^m_0 = 0."""
    return F.pad(z_dynamic[:, :-1], (0, 0, 1, 0))


class Objective(nn.Module):
    """Loss terms and their weights; holds the latent critic of the `gan` penalty and the schedule
    of the KL price on z^c."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = c = config
        if c.uses_gan:
            self.critic = LatentCritic(
                c.static_dim if c.static_penalty == "gan" else None,
                2 * c.dynamic_dim if c.dynamic_penalty == "gan" else None,
                c.hidden_dim,
            )
        # Set by the trainer under DDP with train.global_mmd: gathers codes from all ranks (dim 0).
        self.gather_codes: Callable[[torch.Tensor], torch.Tensor] | None = None
        self.set_step(0)

    def set_step(self, step: int) -> None:
        """The KL price on z^c at `step` (static_kl_warm_beta during the warm phase, then 0) and the
        prior pull's weight (0 before prior_pull_start)."""
        c = self.config
        self.static_kl_weight = c.static_kl_warm_beta if step < c.static_kl_warm_steps else 0.0
        self.prior_pull_weight = c.prior_pull if step >= c.prior_pull_start else 0.0

    def reconstruction(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """c(x, x̂) summed over a frame's elements and over time, averaged over the batch."""
        logits = logits.float()
        if self.config.recon_loss == "bce":
            per_element = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        else:
            pred = torch.sigmoid(logits) if self.config.is_image else logits
            per_element = (pred - x) ** 2
        return per_element.flatten(1).sum(1).mean()

    def mmd(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """MMD between code batches (B, ...) -> (...); over all ranks' codes when gather_codes is set."""
        if self.gather_codes is not None:
            x, y = self.gather_codes(x), self.gather_codes(y)
        x, y = x.movedim(0, -2), y.movedim(0, -2)  # batch next to last: (..., B, d)
        return mmd(x, y, kernel_name=self.config.kernel)

    def static_penalty(self, post: EncoderOutput) -> tuple[torch.Tensor, torch.Tensor]:
        """D(Q(z^c), N(0, I)) and the critic's own loss (zero unless `gan`)."""
        kind, zero = self.config.static_penalty, post.static.new_zeros(())
        if kind == "kl":
            return kl_normal(post.static_mean, post.static_logvar).mean(), zero
        prior = torch.randn_like(post.static)
        if kind == "mmd":
            return self.mmd(post.static, prior), zero
        logits = self.critic.logits
        gen = F.softplus(-logits("static", post.static, False)).mean()  # posterior looks like prior
        critic = (
            F.softplus(-logits("static", prior, True)).mean()
            + F.softplus(logits("static", post.static, True)).mean()
        )
        return gen, critic

    def dynamic_penalty(
        self,
        post: EncoderOutput,
        prior_mu: torch.Tensor,
        prior_logvar: torch.Tensor,
        prior_z: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Σ_t D between the pairs (z^m_{t-1}, z^m_t) and (z^m_{t-1}, ẑ^m_t), the prior run
        teacher-forced on the posterior codes; and the critic's own loss (zero unless `gan`)."""
        kind = self.config.dynamic_penalty
        t = post.dynamic.shape[1]
        if kind == "kl":
            kl = kl_normal(post.dynamic_mean, post.dynamic_logvar, prior_mu, prior_logvar)  # (B, T)
            return kl.sum(1).mean(), post.dynamic.new_zeros(())
        z_prev = previous_codes(post.dynamic)
        pairs_post = torch.cat([z_prev, post.dynamic], -1)  # (B, T, 2 dm)
        pairs_prior = torch.cat([z_prev, prior_z], -1)
        if kind == "mmd":
            return self.mmd(pairs_post, pairs_prior).sum(), post.dynamic.new_zeros(())
        post_flat, prior_flat = pairs_post.flatten(0, 1), pairs_prior.flatten(0, 1)  # (B*T, 2 dm)
        logits = self.critic.logits
        # The encoder moves posterior pairs toward "prior", the prior moves its pairs toward "posterior".
        gen = (
            F.softplus(-logits("dynamic", post_flat, False)).mean()
            + F.softplus(logits("dynamic", prior_flat, False)).mean()
        )
        critic = (
            F.softplus(-logits("dynamic", prior_flat, True)).mean()
            + F.softplus(logits("dynamic", post_flat, True)).mean()
        )
        return t * gen, t * critic

    def forward(
        self,
        x: torch.Tensor,
        logits: torch.Tensor,
        post: EncoderOutput,
        prior_mu: torch.Tensor,
        prior_logvar: torch.Tensor,
        prior_z: torch.Tensor,
        action_recovery: torch.Tensor | None = None,
    ) -> RWAEOutput:
        c = self.config
        recon = self.reconstruction(logits, x.float())
        static_pen, critic_static = self.static_penalty(post)
        dynamic_pen, critic_dynamic = self.dynamic_penalty(post, prior_mu, prior_logvar, prior_z)
        zero = recon.new_zeros(())
        action_pen = zero
        if c.num_actions:
            action_logits = post.action_logits
            if post.memory_action_logits is not None:  # the batch and the remembered sequences
                action_logits = torch.cat([action_logits, post.memory_action_logits])
            if c.action_penalty == "balanced":
                action_pen = balanced_assignment_loss(action_logits)
            else:
                action_pen = categorical_information_penalty(
                    action_logits, c.action_conditional_weight
                )
        loss = (
            recon
            + c.beta_static * static_pen
            + c.beta_dynamic * dynamic_pen
            + c.beta_action * action_pen
        )
        terms = {"recon": recon, "static": static_pen, "dynamic": dynamic_pen}
        if c.num_actions:
            terms["action"] = action_pen
        if action_recovery is not None:  # InfoGAN: generated with a, the encoder must read a
            terms["action_recovery"] = action_recovery
            loss = loss + c.action_recovery * action_recovery
        prior_nll = zero
        if c.prior_fit == "likelihood":  # trains ψ only: the posterior's side is detached
            logvar = post.dynamic_logvar.detach() if c.stochastic_encoder else None
            nll = gaussian_cross_entropy(post.dynamic_mean.detach(), logvar, prior_mu, prior_logvar)
            prior_nll = terms["prior_nll"] = nll.sum(1).mean()  # nats per sequence
            loss = loss + prior_nll
            if self.prior_pull_weight:  # the encoder's side (DSVAE's KL), the prior's detached
                p_mu, p_logvar = prior_mu.detach(), prior_logvar.detach()
                if c.stochastic_encoder:
                    pull = kl_normal(post.dynamic_mean, post.dynamic_logvar, p_mu, p_logvar)
                else:  # a point code: its cross-entropy
                    pull = gaussian_cross_entropy(post.dynamic_mean, None, p_mu, p_logvar)
                terms["prior_pull"] = pull.sum(1).mean()  # nats per sequence
                loss = loss + self.prior_pull_weight * terms["prior_pull"]
        if self.static_kl_weight > 0:  # the warm phase's price on z^c, nats per sequence
            terms["static_kl"] = kl_normal(post.static_mean, post.static_logvar).mean()
            loss = loss + self.static_kl_weight * terms["static_kl"]
        critic_loss = critic_static + critic_dynamic
        if c.uses_gan:
            terms["critic"] = critic_loss
        terms["loss"] = loss
        return RWAEOutput(
            loss=loss,
            critic_loss=critic_loss,
            recon_loss=recon,
            static_penalty=static_pen,
            dynamic_penalty=dynamic_pen,
            action_penalty=action_pen,
            prior_nll=prior_nll,
            x_recon=torch.sigmoid(logits.float()) if c.is_image else logits.float(),
            posterior=post,
            dynamic_prior_sample=prior_z,
            losses={k: v.detach() for k, v in terms.items()},
        )
