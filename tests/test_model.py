import math
import pickle

import pytest
import torch

from rwae import RWAE, RWAEConfig
from rwae.config import ConfigError, from_dict
from rwae.errors import RWAEError
from rwae.models.inference import GUMBEL_MIN
from tests.helpers import tiny_model_config


def batch(config, b=4, t=6, seed=0):
    return torch.rand(b, t, *config.frame_shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"static_penalty": "kl", "dynamic_penalty": "kl"},
        {"static_penalty": "gan", "dynamic_penalty": "gan"},
        {"num_actions": 9},
        {"frame_shape": [20], "decoder": "frame"},
        {"frame_shape": [1, 32, 32], "stochastic_encoder": False},
        {"recon_loss": "bce", "kernel": "rbf"},
        {"dynamic_input": "residual_mask", "num_actions": 3, "static_kl_warm_beta": 1.0},
        {"num_actions": 4, "action_recovery": 1.0, "prior_fit": "likelihood"},
        {"num_actions": 4, "action_penalty": "balanced", "action_memory": 8},
        {"frame_shape": [20], "decoder": "frame", "dynamic_input": "residual"},
        {"decoder": "translate", "num_actions": 3},
    ],
)
def test_shapes_of_every_method(overrides):
    torch.manual_seed(0)
    config = tiny_model_config(**overrides)
    model = RWAE(config)
    x = batch(config)
    out = model(x)
    assert out.x_recon.shape == x.shape and torch.isfinite(out.loss)
    assert out.posterior.static.shape == (4, config.static_dim)
    assert out.posterior.dynamic.shape == (4, 6, config.dynamic_dim)
    assert set(out.losses) >= {"recon", "static", "dynamic", "loss"}
    (out.loss + out.critic_loss).backward()
    model.eval()
    g = torch.Generator().manual_seed(0)
    assert model.generate(3, 5, generator=g).shape == (3, 5, *config.frame_shape)
    assert model.reconstruct(x).shape == x.shape
    assert model.swap(x, x.flip(0)).shape == x.shape
    assert model.resample_static(x, generator=g).shape == x.shape
    assert model.resample_dynamics(x, generator=g).shape == x.shape
    assert model.interpolate(x[:2], x[2:], steps=3).shape == (3, 2, 6, *config.frame_shape)
    if config.is_image:
        gen = model.generate(2, 3, generator=g)
        assert float(gen.min()) >= 0 and float(gen.max()) <= 1


def test_generation_is_reproducible_with_a_generator():
    model = RWAE(tiny_model_config()).eval()
    a = model.generate(2, 4, generator=torch.Generator().manual_seed(3))
    b = model.generate(2, 4, generator=torch.Generator().manual_seed(3))
    c = model.generate(2, 4, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_swap_uses_static_of_first_and_dynamics_of_second():
    torch.manual_seed(0)
    model = RWAE(tiny_model_config()).eval()
    x1, x2 = batch(model.config, seed=1), batch(model.config, seed=2)
    p1, p2 = model.encode(x1), model.encode(x2)
    expected = model.decode(p1.static_mean, p2.dynamic_mean)
    assert torch.allclose(model.swap(x1, x2), expected)


def test_kl_configuration_is_the_dsvae_objective():
    torch.manual_seed(0)
    model = RWAE(
        tiny_model_config(
            static_penalty="kl", dynamic_penalty="kl", beta_static=1.0, beta_dynamic=1.0
        )
    )
    out = model(batch(model.config))
    post = out.posterior
    static_kl = (
        torch.distributions.kl_divergence(
            torch.distributions.Normal(post.static_mean, (0.5 * post.static_logvar).exp()),
            torch.distributions.Normal(0.0, 1.0),
        )
        .sum(-1)
        .mean()
    )
    assert torch.allclose(out.static_penalty, static_kl, rtol=1e-5)
    assert torch.allclose(
        out.loss, out.recon_loss + out.static_penalty + out.dynamic_penalty, rtol=1e-6
    )


def test_gan_variant_updates_both_optimizers():
    torch.manual_seed(0)
    model = RWAE(tiny_model_config(static_penalty="gan", dynamic_penalty="gan"))
    opt = torch.optim.Adam(model.generator_parameters(), lr=1e-2)
    critic_opt = torch.optim.Adam(model.critic_parameters(), lr=1e-2)
    gen_before = [p.detach().clone() for p in model.generator_parameters()]
    critic_before = [p.detach().clone() for p in model.critic_parameters()]
    out = model(batch(model.config))
    # the model's loss must not reach the critic's weights: only critic_loss trains them
    grads = torch.autograd.grad(out.loss, list(model.critic_parameters()), allow_unused=True)
    assert all(g is None for g in grads)
    (out.loss + out.critic_loss).backward()
    opt.step()
    critic_opt.step()
    assert any(
        not torch.equal(a, p) for a, p in zip(gen_before, model.generator_parameters(), strict=True)
    )
    assert all(
        not torch.equal(a, p) for a, p in zip(critic_before, model.critic_parameters(), strict=True)
    )


def test_weak_supervision_action_code():
    torch.manual_seed(0)
    model = RWAE(tiny_model_config(num_actions=5))
    out = model(batch(model.config))
    assert out.posterior.action_logits.shape == (4, 5)
    out.loss.backward()
    assert (
        model.inference.action_head.weight.grad.abs().sum() > 0
    )  # a receives gradients (through decoder and prior)
    model.inference.gumbel_temperature.fill_(1e-4)  # the hard limit
    with torch.no_grad():
        a = model.encode(batch(model.config)).action
    assert torch.allclose(a.max(-1).values, torch.ones(4), atol=1e-3) and torch.allclose(
        a.sum(-1), torch.ones(4)
    )
    model.update_schedules(10**9)
    assert float(model.inference.gumbel_temperature) == pytest.approx(GUMBEL_MIN)


def test_generation_by_action_and_the_code_marginal(tmp_path):
    torch.manual_seed(0)
    model = RWAE(tiny_model_config(num_actions=4))
    uniform = model.generative.action_marginal.clone()
    model(batch(model.config))  # a training pass moves p(a) toward the batch's mean q(a | x)
    assert not torch.equal(model.generative.action_marginal, uniform)
    assert model.generative.action_marginal.sum() == pytest.approx(1.0)
    model.eval()
    g = torch.Generator().manual_seed(0)
    assert model.generate(3, 5, generator=g, action=2).shape == (3, 5, *model.config.frame_shape)
    assert model.generative.sample_actions(6, g, action=2).argmax(-1).tolist() == [2] * 6
    model.generative.action_marginal.copy_(torch.tensor([0.0, 0.0, 1.0, 0.0]))
    assert model.generative.sample_actions(50, g).argmax(-1).unique().tolist() == [2]
    with pytest.raises(RWAEError, match="action must be in 0..3"):
        model.generate(1, 5, action=4)
    with pytest.raises(RWAEError, match="action code"):
        RWAE(tiny_model_config()).generate(1, 5, action=0)
    # a model saved before p(a) was tracked loads with a uniform p(a)
    from safetensors.torch import load_file, save_file

    folder = model.save_pretrained(tmp_path / "weak")
    weights = load_file(folder / "model.safetensors")
    del weights["generative.action_marginal"]
    save_file(weights, folder / "model.safetensors")
    old = RWAE.from_pretrained(folder)
    assert torch.allclose(old.generative.action_marginal, torch.full((4,), 0.25))


def test_the_action_head_can_read_the_means_in_training_too():
    model = RWAE(tiny_model_config(num_actions=4, action_head_input="mean")).train()
    x = batch(model.config)
    logits = [model.encode(x, torch.Generator().manual_seed(s)).action_logits for s in (0, 1)]
    assert torch.equal(logits[0], logits[1])  # no sampling noise reaches the head
    sampled = RWAE(tiny_model_config(num_actions=4)).train()
    sampled.load_state_dict(model.state_dict())
    noisy = [sampled.encode(x, torch.Generator().manual_seed(s)).action_logits for s in (0, 1)]
    assert not torch.equal(noisy[0], noisy[1])


@pytest.mark.parametrize("learns, moved", [("all", True), ("penalty", False)])
def test_the_action_head_learns_from_its_penalty_alone_when_asked(learns, moved):
    torch.manual_seed(0)
    config = tiny_model_config(num_actions=4, beta_action=0.0, action_head_learns=learns)
    model = RWAE(config).train()
    out = model(batch(config))  # with beta_action 0, only the decoder's loss can reach the head
    out.loss.backward()
    grad = model.inference.action_head.weight.grad
    assert (grad is not None and grad.abs().sum() > 0) == moved


@pytest.mark.parametrize("learns, moved", [("penalty", True), ("head", False)])
def test_the_code_penalty_moves_the_dynamic_encoder_unless_only_the_head_learns(learns, moved):
    torch.manual_seed(0)
    config = tiny_model_config(num_actions=4, action_head_input="mean", action_head_learns=learns)
    model = RWAE(config).train()
    model(batch(config)).action_penalty.backward()
    encoder = model.inference.dynamic_head.linear.weight.grad
    assert (encoder is not None and encoder.abs().sum() > 0) == moved
    assert model.inference.action_head.weight.grad.abs().sum() > 0


def test_the_code_penalty_weighs_the_conditional_entropy():
    from rwae.losses.categorical import categorical_information_penalty

    unsure = torch.zeros(6, 3)  # every q(a | x) uniform: KL(q(a) || U) = 0, H = ln 3
    assert float(categorical_information_penalty(unsure)) == pytest.approx(math.log(3))
    assert float(categorical_information_penalty(unsure, 0.5)) == pytest.approx(0.5 * math.log(3))
    one_category = torch.tensor([[9.0, 0, 0]]).expand(6, 3)  # confident, all in one category
    assert float(categorical_information_penalty(one_category, 0.5)) > math.log(3) - 0.01


def test_the_code_penalty_reads_remembered_sequences_too():
    torch.manual_seed(0)
    config = tiny_model_config(num_actions=4, action_head_input="mean", action_memory=6)
    model = RWAE(config).train()
    batches = [batch(config, seed=s) for s in range(3)]
    sizes = []
    for x in batches:
        out = model.encode(x)
        sizes.append(None if out.memory_action_logits is None else len(out.memory_action_logits))
    assert sizes == [None, 4, 6]  # the first batch finds it empty; it holds at most 6
    assert not any("action_memory" in k for k in model.state_dict())  # training state only
    with torch.no_grad():  # confident assignments, so that which sequences it reads matters
        model.inference.action_head.weight.mul_(100)
    alone = RWAE(tiny_model_config(num_actions=4, action_head_input="mean")).train()
    alone.load_state_dict(model.state_dict())
    torch.manual_seed(1)
    with_memory = model(batches[0]).action_penalty
    torch.manual_seed(1)
    assert float(with_memory) != pytest.approx(float(alone(batches[0]).action_penalty))
    model.eval()
    held = model.inference.action_memory
    model(batches[1])
    assert model.inference.action_memory is held  # evaluation leaves it alone


def test_action_recovery_trains_prior_and_decoder_to_use_every_category():
    torch.manual_seed(0)
    model = RWAE(tiny_model_config(num_actions=4, action_recovery=1.0))
    out = model(batch(model.config))
    recovery = out.losses["action_recovery"]
    assert 0 < float(recovery) < 10
    model.zero_grad()
    model.action_recovery(torch.randn(4, model.config.static_dim), 6).backward()
    for part in (model.generative.prior_head, model.generative.frame_decoder):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    assert model.inference.action_head.weight.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="action_recovery"):
        tiny_model_config(action_recovery=1.0)


def test_dynamic_penalty_reaches_encoder_and_prior():
    torch.manual_seed(0)
    model = RWAE(tiny_model_config())
    out = model(batch(model.config))
    out.dynamic_penalty.backward()
    assert model.generative.prior_head.linear.weight.grad.abs().sum() > 0
    assert model.inference.dynamic_head.linear.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("stochastic", [True, False])
def test_prior_fitted_by_likelihood_trains_the_prior_alone(stochastic):
    """prior_fit=likelihood: the dynamic penalty trains the encoder but not the prior; the prior's
    likelihood term trains the prior but not the encoder."""
    torch.manual_seed(0)
    model = RWAE(tiny_model_config(prior_fit="likelihood", stochastic_encoder=stochastic))
    out = model(batch(model.config))
    c = model.config
    rest = (
        out.recon_loss + c.beta_static * out.static_penalty + c.beta_dynamic * out.dynamic_penalty
    )
    assert out.loss.item() == pytest.approx((rest + out.prior_nll).item(), rel=1e-5)
    prior, encoder = model.generative.prior_head.linear.weight, model.inference.dynamic_head
    out.dynamic_penalty.backward(retain_graph=True)
    assert prior.grad is None or prior.grad.abs().sum() == 0
    assert encoder.linear.weight.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)
    out.prior_nll.backward()
    assert prior.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.inference.parameters())
    with pytest.raises(ConfigError, match="prior_fit"):
        tiny_model_config(prior_fit="likelihood", dynamic_penalty="kl", static_penalty="kl")


@pytest.mark.parametrize("stochastic", [True, False])
def test_the_prior_pull_trains_the_encoder_toward_the_prior_from_its_start(stochastic):
    """prior_pull: DSVAE's per-step KL (a point code: its cross-entropy) enters the loss at its
    weight from prior_pull_start on, and moves the encoder, never the prior."""
    torch.manual_seed(0)
    config = tiny_model_config(
        prior_fit="likelihood", prior_pull=0.5, prior_pull_start=3, stochastic_encoder=stochastic
    )
    model = RWAE(config)
    without = RWAE(tiny_model_config(prior_fit="likelihood", stochastic_encoder=stochastic))
    without.load_state_dict(model.state_dict())
    x = batch(config)
    model.update_schedules(2)
    assert "prior_pull" not in model(x).losses  # not yet
    model.update_schedules(3)
    torch.manual_seed(1)  # the same draws of codes and prior samples in both passes
    out = model(x)
    pull = out.losses["prior_pull"]
    torch.manual_seed(1)
    base = without(x).loss
    assert out.loss.item() == pytest.approx((base + 0.5 * pull).item(), rel=1e-5)
    out.loss.backward()
    base.backward()
    # the two models' gradients differ by the pull's: in the encoder, and nowhere in the prior
    encoder = [m.inference.dynamic_head.linear.weight.grad for m in (model, without)]
    assert not torch.allclose(*encoder)
    for mine, theirs in zip(
        model.generative.prior_lstm.parameters(),
        without.generative.prior_lstm.parameters(),
        strict=True,
    ):
        assert torch.allclose(mine.grad, theirs.grad)
    with pytest.raises(ConfigError, match="prior_pull needs model.prior_fit"):
        tiny_model_config(prior_pull=0.5)


def test_wrong_input_shape_is_a_clear_error():
    model = RWAE(tiny_model_config())
    with pytest.raises(RWAEError, match=r"expected input of shape \(B, T, 3, 64, 64\)"):
        model(torch.rand(2, 4, 1, 64, 64))


def test_save_and_load_pretrained_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model = RWAE(tiny_model_config(num_actions=3, static_penalty="gan")).eval()
    x = batch(model.config)
    model.save_pretrained(tmp_path / "m")
    loaded = RWAE.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    assert torch.equal(model.reconstruct(x), loaded.reconstruct(x))
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(model.generate(2, 3, g1), loaded.generate(2, 3, g2))
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]


class Payload:
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_pickled_files_are_refused(tmp_path):
    model = RWAE(tiny_model_config())
    model.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(pickle.dumps({"weights": Payload()}))
    with pytest.raises(RWAEError, match="model.safetensors"):
        RWAE.from_pretrained(tmp_path / "m")
    with pytest.raises(RWAEError, match="config.json: not found"):
        RWAE.from_pretrained(tmp_path / "nothing")


def test_config_rejects_bad_values():

    with pytest.raises(ConfigError, match="static_penalty"):
        RWAEConfig(static_penalty="wasserstein")
    with pytest.raises(ConfigError, match="power-of-two"):
        RWAEConfig(frame_shape=[3, 48, 48])
    with pytest.raises(ConfigError, match="action_memory needs an action code"):
        RWAEConfig(action_memory=16)
    with pytest.raises(RWAEError, match="Gaussian encoder"):
        RWAE(tiny_model_config(stochastic_encoder=False, static_penalty="kl"))


def test_retired_options_load_when_neutral_and_are_named_otherwise():
    neutral = from_dict(RWAEConfig, {"pair_augment": "none", "beta_static_kl": 0.0}, "model.")
    assert neutral == RWAEConfig()
    with pytest.raises(ConfigError, match=r"model.pair_augment='color'.*retired.*structure-study"):
        from_dict(RWAEConfig, {"pair_augment": "color"}, "model.")
    with pytest.raises(ConfigError, match=r"action_split_below=0.5.*retired.*docs/weak.md"):
        from_dict(RWAEConfig, {"action_split_below": 0.5}, "model.")
    with pytest.raises(ConfigError, match=r"action_code_start=500.*retired.*commit 9b7ad3e"):
        from_dict(RWAEConfig, {"action_code_start": 500}, "model.")


def test_residual_dynamic_input_sees_only_what_moves():
    torch.manual_seed(0)
    model = RWAE(tiny_model_config(dynamic_input="residual")).eval()
    x = batch(model.config)
    still = 0.3 * torch.rand(x.shape[0], 1, *x.shape[2:])  # the same image added to every frame
    with torch.no_grad():
        moved, shifted = model.encode(x).dynamic_mean, model.encode(x + still).dynamic_mean
        static_moved = model.encode(x).static_mean, model.encode(x + still).static_mean
    assert torch.allclose(moved, shifted, atol=1e-5)
    assert not torch.allclose(*static_moved, atol=1e-3)  # the static path does see it


@pytest.mark.parametrize("dynamic_input", ["residual_mask"])
def test_mask_dynamic_input_is_blind_to_color_order(dynamic_input):
    torch.manual_seed(0)
    model = RWAE(tiny_model_config(dynamic_input=dynamic_input)).eval()
    x = batch(model.config)
    with torch.no_grad():
        z_m = model.encode(x).dynamic_mean
        z_m_bgr = model.encode(x.flip(2)).dynamic_mean  # (B, T, C, S, S): channels reversed
    assert torch.allclose(z_m, z_m_bgr, atol=1e-5)
    with pytest.raises(ConfigError, match=dynamic_input):
        tiny_model_config(frame_shape=[20], decoder="frame", dynamic_input=dynamic_input)


def test_mask_dynamic_input_is_blind_to_shades():
    torch.manual_seed(0)
    model = RWAE(tiny_model_config(dynamic_input="residual_mask")).eval()
    x = (batch(model.config) > 0.5).float()  # two-tone frames
    with torch.no_grad():  # the same shapes in other shades: what moves is unchanged
        assert torch.allclose(
            model.encode(x).dynamic_mean, model.encode(0.2 + 0.5 * x).dynamic_mean, atol=1e-5
        )


def test_warm_price_on_z_c_then_the_final_price():
    torch.manual_seed(0)
    model = RWAE(tiny_model_config(static_kl_warm_beta=50.0, static_kl_warm_steps=10))
    x = batch(model.config)
    outs = []
    for step in (0, 9, 10):  # the same weights and noise at every step; only the price changes
        model.update_schedules(step)
        torch.manual_seed(1)
        outs.append(model(x))
    kl = float(outs[0].losses["static_kl"])
    assert kl > 0 and "static_kl" not in outs[2].losses  # no price after the warm phase
    assert float(outs[1].loss.detach()) == pytest.approx(float(outs[0].loss.detach()), rel=1e-6)
    assert float((outs[0].loss - outs[2].loss).detach()) == pytest.approx(50.0 * kl, rel=1e-4)


def test_translate_moves_the_canvas_by_the_shift():
    from rwae.models.networks import translate

    canvas = torch.zeros(1, 1, 8, 8)
    canvas[0, 0, 2, 3] = 1.0  # (y, x)
    moved = translate(canvas, torch.tensor([[0.5, -0.25]]))  # half the frame is 4 px: +2 x, -1 y
    assert moved[0, 0].nonzero().tolist() == [[1, 5]]
    assert float(moved.max()) == pytest.approx(1.0)


def test_the_translate_decoder_draws_what_from_the_static_code_alone():
    torch.manual_seed(0)
    model = RWAE(tiny_model_config(decoder="translate")).eval()
    generative = model.generative
    z_static = torch.randn(2, model.config.static_dim)
    z_a, z_b = torch.randn(2, 2, 5, model.config.dynamic_dim)
    with torch.no_grad():
        moved_a = generative.decode_logits(z_static, z_a)
        assert not torch.allclose(moved_a, generative.decode_logits(z_static, z_b))  # it moves
        generative.shift_head[-1].weight.zero_()  # every frame's shift 0: z^m has no say left
        generative.shift_head[-1].bias.zero_()
        still = generative.decode_logits(z_static, z_a)
        assert torch.equal(still, generative.decode_logits(z_static, z_b))
        assert torch.equal(still[:, 0], still[:, -1])  # one canvas per sequence
        assert not torch.allclose(still, generative.decode_logits(-z_static, z_a))


def test_the_translate_decoder_needs_image_frames():
    with pytest.raises(ConfigError, match="decoder=translate needs image frames"):
        tiny_model_config(frame_shape=[20], decoder="translate")
