import itertools
import math

import pytest
import torch

from rwae.losses import WAE_SCALES, kl_normal, mmd
from rwae.losses.categorical import (
    balanced_assignment_loss,
    balanced_assignments,
    categorical_information_penalty,
)


def reference_mmd(x, y, name="imq", scales=WAE_SCALES, bandwidth=1.0):
    """Float64, loop-based U-statistic, straight from the formula in DESIGN.md §1.3."""
    x, y = x.double(), y.double()
    n, d = x.shape
    c = 2 * d * bandwidth**2

    def k(a, b):
        d2 = float(((a - b) ** 2).sum())
        if name == "imq":
            return sum(s * c / (s * c + d2) for s in scales)
        return sum(math.exp(-d2 / (s * c)) for s in scales)

    total = 0.0
    for i, j in itertools.permutations(range(n), 2):
        total += k(x[i], x[j]) + k(y[i], y[j]) - k(x[i], y[j]) - k(x[j], y[i])
    return total / (n * (n - 1))


@pytest.mark.parametrize("name", ["imq", "rbf"])
def test_matches_float64_reference(name):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(12, 5, generator=g), torch.randn(12, 5, generator=g) + 0.3
    got = mmd(x, y, kernel_name=name, scales=(0.5, 1.0, 2.0), bandwidth=0.7)
    assert float(got) == pytest.approx(
        reference_mmd(x, y, name, (0.5, 1.0, 2.0), 0.7), rel=1e-4, abs=1e-6
    )


def test_near_zero_for_one_distribution_and_positive_for_shifted():
    g = torch.Generator().manual_seed(1)
    same = torch.stack(
        [mmd(torch.randn(64, 8, generator=g), torch.randn(64, 8, generator=g)) for _ in range(20)]
    )
    shifted = mmd(torch.randn(64, 8, generator=g), torch.randn(64, 8, generator=g) + 1.0)
    assert (
        abs(float(same.mean())) < 3 * float(same.std()) / math.sqrt(20) + 1e-3
    )  # unbiased: mean ~ 0
    assert float(shifted) > 10 * float(same.std())


def test_unbiased_when_pairs_share_their_first_half():
    # The dynamic penalty compares (z_prev, z) with (z_prev, z_hat): equal first halves. With i = j kept
    # in the cross term, such an estimate is biased below zero; ours is not.
    g = torch.Generator().manual_seed(2)
    values = []
    for _ in range(50):
        prev = torch.randn(32, 4, generator=g)
        values.append(
            float(
                mmd(
                    torch.cat([prev, torch.randn(32, 4, generator=g)], 1),
                    torch.cat([prev, torch.randn(32, 4, generator=g)], 1),
                )
            )
        )
    mean, std = torch.tensor(values).mean(), torch.tensor(values).std()
    assert abs(float(mean)) < 3 * float(std) / math.sqrt(50)


def test_batched_leading_dims_and_float32_under_autocast():
    x, y = torch.randn(3, 10, 4), torch.randn(3, 10, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = mmd(x.bfloat16(), y.bfloat16())
    assert out.shape == (3,) and out.dtype == torch.float32
    assert torch.allclose(out[1], mmd(x[1].bfloat16().float(), y[1].bfloat16().float()))


def test_gradients_are_finite_even_for_identical_points():
    x = torch.zeros(5, 3, requires_grad=True)
    y = torch.randn(5, 3, requires_grad=True)
    mmd(x, y).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()


def test_batch_of_one_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd(torch.randn(1, 3), torch.randn(1, 3))


def test_kl_matches_closed_form_and_monte_carlo():
    mu_q, logvar_q = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.2, -0.5]])
    mu_p, logvar_p = torch.tensor([[0.1, 0.3]]), torch.tensor([[-0.3, 0.4]])
    got = kl_normal(mu_q, logvar_q, mu_p, logvar_p)
    q = torch.distributions.Normal(mu_q, (0.5 * logvar_q).exp())
    p = torch.distributions.Normal(mu_p, (0.5 * logvar_p).exp())
    assert torch.allclose(got, torch.distributions.kl_divergence(q, p).sum(-1))
    assert torch.allclose(
        kl_normal(mu_q, logvar_q),
        torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1),
    )


def test_information_penalty_oracle_and_collapse():
    confident_balanced = torch.eye(4).repeat(4, 1) * 50  # each class equally often, each sharp
    collapsed = torch.zeros(16, 4)
    collapsed[:, 0] = 50  # all in one class
    assert float(categorical_information_penalty(confident_balanced)) == pytest.approx(
        0.0, abs=1e-4
    )
    assert float(categorical_information_penalty(collapsed)) == pytest.approx(math.log(4), abs=1e-3)


def test_balanced_assignments_share_every_category_and_revive_a_starved_one():
    torch.manual_seed(0)
    logits = torch.randn(60, 4) * 3
    logits[:, 3] -= 30  # a category the code starved
    targets = balanced_assignments(logits)
    assert torch.allclose(targets.sum(1), torch.ones(60), atol=1e-4)
    assert torch.allclose(targets.sum(0), torch.full((4,), 15.0), rtol=0.06)
    kept = logits.argmax(-1)[targets.argmax(-1) != 3]  # the others keep their categories
    assert (kept == targets.argmax(-1)[targets.argmax(-1) != 3]).float().mean() > 0.8
    balanced, informed = (logits.clone().requires_grad_() for _ in range(2))
    balanced_assignment_loss(balanced).backward()
    categorical_information_penalty(informed).backward()
    # the information term passes the starved category almost nothing; the balanced loss does
    assert informed.grad[:, 3].abs().sum() < 1e-6 < 1e-3 < balanced.grad[:, 3].abs().sum()
