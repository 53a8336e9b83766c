"""z^m_1's generation prior fitted after training: the mixture, the model's use of it, `rwae fit-prior`."""

import json

import pytest
import torch

from rwae import RWAE, data
from rwae.cli import main
from rwae.dynamic_start import first_dynamic_codes
from rwae.evaluation.protocol import spread_indices
from rwae.models.mixture import fit_gaussian_mixture, mixture_log_likelihood, sample_mixture

from .helpers import tiny_model_config


def two_clusters(n: int = 600) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[6.0, 0.0, 0.0], [-6.0, 2.0, 1.0]])
    pick = torch.arange(n) % 4 == 0  # a quarter in the first cluster
    return centres[(~pick).long()] + 0.3 * torch.randn(n, 3, generator=g)


def test_the_mixture_finds_the_clusters_and_beats_one_gaussian_on_held_out_codes():
    codes = two_clusters()
    weights, means, scale_tril = fit_gaussian_mixture(codes[:400], 2)
    order = means[:, 0].argsort(descending=True)
    assert torch.allclose(weights[order], torch.tensor([0.25, 0.75]), atol=0.05)
    assert torch.allclose(means[order], torch.tensor([[6.0, 0, 0], [-6.0, 2, 1]]), atol=0.15)
    two = mixture_log_likelihood(codes[400:], weights, means, scale_tril)
    one = mixture_log_likelihood(codes[400:], *fit_gaussian_mixture(codes[:400], 1))
    assert two > one + 1.0
    draws = sample_mixture(4000, weights, means, scale_tril, torch.Generator().manual_seed(1))
    assert abs(float((draws[:, 0] > 0).float().mean()) - 0.25) < 0.03
    with pytest.raises(ValueError, match="components must be in 1..400"):
        fit_gaussian_mixture(codes[:400], 0)


def test_generation_starts_from_the_fitted_mixture_and_the_protocol_does_not():
    model = RWAE(tiny_model_config(dynamic_start_components=2)).eval()
    prior = model.generative
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    unfitted = prior.sample_dynamics(500, 4, None, g())
    d = model.config.dynamic_dim
    means = torch.stack([torch.full((d,), 5.0), torch.full((d,), -5.0)])
    prior.set_dynamic_start(torch.tensor([0.5, 0.5]), means, 0.01 * torch.eye(d).expand(2, d, d))
    drawn = prior.sample_dynamics(500, 4, None, g())
    assert (drawn[:, 0].abs() - 5.0).abs().max() < 0.1  # every first code at one of the two means
    assert 150 < int((drawn[:, 0, 0] > 0).sum()) < 350
    assert (drawn[:, 1:].abs() - 5.0).abs().min() > 0.1  # later steps: the learned prior's draws
    assert torch.equal(prior.sample_dynamics(500, 4, None, g(), fitted_start=False), unfitted)
    x = torch.rand(3, 4, *model.config.frame_shape)
    with torch.no_grad():  # "resample dynamics" keeps the learned prior's own first step
        kept = model.resample_dynamics(x, g())
        plain = RWAE(tiny_model_config())
        plain.load_state_dict(
            {k: v for k, v in model.state_dict().items() if "dynamic_start" not in k}
        )
        assert torch.equal(kept, plain.eval().resample_dynamics(x, g()))


def test_a_fitted_start_survives_saving_and_a_model_without_one_refuses_it(tmp_path):
    model = RWAE(tiny_model_config(dynamic_start_components=3)).eval()
    d = model.config.dynamic_dim
    weights, means = torch.tensor([0.2, 0.3, 0.5]), torch.randn(3, d)
    model.generative.set_dynamic_start(weights, means, torch.eye(d).expand(3, d, d))
    model.save_pretrained(tmp_path / "m", dtype=torch.float16)
    loaded = RWAE.from_pretrained(tmp_path / "m")
    assert loaded.generative.dynamic_start_fitted
    assert torch.allclose(loaded.generative.dynamic_start_means, means, atol=1e-2)
    plain = RWAE(tiny_model_config())
    assert not plain.generative.dynamic_start_fitted
    with pytest.raises(Exception, match="no dynamic start mixture"):
        plain.generative.set_dynamic_start(weights, means, torch.eye(d).expand(3, d, d))
    with pytest.raises(Exception, match="without an action code"):
        tiny_model_config(dynamic_start_components=3, num_actions=4)


def test_a_model_saved_with_the_retired_static_mixture_key_loads_only_when_it_was_off(tmp_path):
    RWAE(tiny_model_config()).save_pretrained(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    meta = json.loads(path.read_text())
    meta["model"]["static_prior_components"] = 0
    path.write_text(json.dumps(meta))
    assert RWAE.from_pretrained(tmp_path / "m").config.dynamic_start_components == 0
    meta["model"]["static_prior_components"] = 10
    path.write_text(json.dumps(meta))
    with pytest.raises(Exception, match="static_prior_components=10: this option was retired"):
        RWAE.from_pretrained(tmp_path / "m")
    # a run folder's config.yaml from before (resume reads it) likewise
    from rwae.config import ConfigError, ExperimentConfig

    raw = ExperimentConfig().to_dict()
    raw["model"]["static_prior_components"] = 0
    assert ExperimentConfig.from_dict(raw).model == ExperimentConfig().model
    raw["model"]["static_prior_components"] = 10
    with pytest.raises(ConfigError, match="static_prior_components=10: this option was retired"):
        ExperimentConfig.from_dict(raw)


def test_fit_prior_writes_a_model_whose_samples_start_from_the_codes(tmp_path, capsys):
    out = tmp_path / "fitted"
    argv = ["fit-prior", "default", "--out", str(out), "--components", "2", "--sequences", "64"]
    assert main(argv) == 0
    assert "2-component Gaussian mixture fitted to the first dynamic codes of 64 sequences of " in (
        capsys.readouterr().out
    )
    base, fitted = RWAE.from_pretrained("default"), RWAE.from_pretrained(out)
    assert fitted.config.dynamic_start_components == 2 and fitted.generative.dynamic_start_fitted
    for name, weight in base.state_dict().items():  # everything else carried over unchanged
        if "dynamic_start" not in name:  # the built-in model has a start of its own (9-way)
            assert torch.equal(fitted.state_dict()[name], weight), name
    # fitted to those very codes: after EM's last M-step the weighted means are the codes' mean
    train = data.load("sprites", "train")
    codes = first_dynamic_codes(base.float(), train, spread_indices(len(train), 64))
    prior = fitted.generative
    centre = prior.dynamic_start_weights @ prior.dynamic_start_means
    assert torch.allclose(centre, codes.mean(0), atol=2e-2)
    assert main(["fit-prior", "default", "--out", str(tmp_path / "x"), "--components", "0"]) == 2
    assert "--components must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["fit-prior", "weak", "--out", str(tmp_path / "y")]) == 2
    assert "without an action code" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


def test_training_fits_the_start_at_its_end_when_the_config_asks(tmp_path):
    from rwae.training import train

    from .helpers import tiny_experiment

    config = tiny_experiment(**{"train.steps": 2, "model.dynamic_start_components": 3})
    train(config, tmp_path / "run", progress=False)
    model = RWAE.from_pretrained(tmp_path / "run")
    assert model.config.dynamic_start_components == 3 and model.generative.dynamic_start_fitted
    assert float(model.generative.dynamic_start_weights.sum()) == pytest.approx(1.0, abs=1e-3)
