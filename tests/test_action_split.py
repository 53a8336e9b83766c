import json
import math

import pytest
import torch

from rwae import RWAE
from rwae.config import ConfigError
from rwae.models.action_split import split_category, starved_category
from rwae.training.run import train
from tests.helpers import tiny_experiment, tiny_model_config


def test_a_starved_category_is_found_below_its_share():
    usage = torch.tensor([0.5, 0.3, 0.15, 0.05])  # shares of 1/A: 2.0, 1.2, 0.6, 0.2
    assert starved_category(usage, 0.25) == (3, 0)
    assert starved_category(usage, 0.2) is None
    assert starved_category(usage, 0.0) is None


def test_usage_counts_the_most_likely_category_only():
    model = RWAE(tiny_model_config(num_actions=3))
    logits = torch.tensor([[2.0, 1.9, 0.0]] * 4)  # category 1 holds much of p(a), wins nothing
    model.generative.track_action_marginal(logits, rate=1.0)
    assert float(model.generative.action_marginal[1]) > 0.3
    assert torch.equal(model.generative.action_usage, torch.tensor([1.0, 0.0, 0.0]))


@pytest.mark.parametrize("decoder", ["frame", "lstm"])
def test_the_starved_category_becomes_a_nudged_copy_of_the_donor(decoder):
    torch.manual_seed(0)
    model = RWAE(tiny_model_config(num_actions=4, decoder=decoder)).eval()
    model.generative.action_marginal.copy_(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    model.generative.action_usage.copy_(torch.tensor([0.5, 0.3, 0.2, 0.0]))
    x = torch.rand(5, 6, *model.config.frame_shape)
    optimizer = torch.optim.Adam(model.parameters())
    model(x).loss.backward()
    optimizer.step()
    with torch.no_grad():
        before = torch.softmax(model.encode(x).action_logits, -1)
    donor = model.inference.action_head.weight[0].clone()
    split_category(model, 3, 0, optimizer, torch.Generator().manual_seed(0))

    head = model.inference.action_head
    assert not torch.equal(head.weight[3], head.weight[0])  # nudged apart
    assert torch.allclose((head.weight[3] + head.weight[0]) / 2, donor)
    assert float(head.bias[3].detach()) == float(head.bias[0].detach())
    with torch.no_grad():
        after = torch.softmax(model.encode(x).action_logits, -1)
    # the pair shares what the donor held; the starved category's old mass is spread over all
    kept = before[:, :3] / (1 - before[:, 3:])
    assert torch.allclose(after[:, [1, 2]], kept[:, [1, 2]], atol=0.01)
    assert torch.allclose(after[:, 0] + after[:, 3], kept[:, 0], atol=0.01)
    assert torch.allclose(
        model.generative.action_marginal, torch.tensor([0.25, 0.3, 0.15, 0.25]) / 0.95
    )
    assert torch.allclose(model.generative.action_usage, torch.tensor([0.25, 0.3, 0.2, 0.25]))
    # the generative model reads a_3 as it reads a_0, and Adam's moments followed the weights
    prior = model.generative.prior_lstm.weight_ih_l0
    d = model.config.dynamic_dim
    assert torch.equal(prior[:, d + 3], prior[:, d + 0])
    moments = optimizer.state[prior]
    for key in ("exp_avg", "exp_avg_sq"):
        assert torch.equal(moments[key][:, d + 3], moments[key][:, d + 0])
    one_hot = torch.eye(4)
    z_c, z_m = torch.randn(1, model.config.static_dim), torch.randn(1, 6, d)
    assert torch.allclose(
        model.decode(z_c, z_m, one_hot[[3]]), model.decode(z_c, z_m, one_hot[[0]])
    )


def test_the_split_needs_an_action_code_and_a_share_below_one():
    with pytest.raises(ConfigError, match="action_split_below needs an action code"):
        tiny_model_config(action_split_below=0.5)
    with pytest.raises(ConfigError, match="action_split_below must be in"):
        tiny_model_config(num_actions=4, action_split_below=1.5)


def test_training_splits_a_starved_category(tmp_path, capfd):
    # a threshold just under 1/A: the first look (step 10) finds one, as p(a) drifts from uniform
    # at once; the run still trains, saves and reloads
    config = tiny_experiment(
        **{"train.steps": 10, "model.num_actions": 4, "model.action_split_below": 0.9999}
    )
    train(config, tmp_path / "run", progress=False)
    assert "takes half of category" in capfd.readouterr().err
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert summary["action_splits"][0]["step"] == 10
    model = RWAE.from_pretrained(tmp_path / "run" / "model")
    assert math.isclose(float(model.generative.action_marginal.sum()), 1.0, rel_tol=1e-4)
