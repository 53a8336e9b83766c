"""Metrics on an oracle (perfect score) and on a constant (chance score)."""

import math

import numpy as np
import pytest
import torch

from rwae.evaluation import metrics


def test_inception_score_oracle_and_constant():
    k = 9
    oracle = torch.eye(k).repeat(5, 1)  # every class, each with certainty
    scores = metrics.inception_scores(oracle)
    assert scores["inception_score"] == pytest.approx(k)
    assert scores["h_y_given_x"] == pytest.approx(0.0, abs=1e-9)
    assert scores["h_y"] == pytest.approx(math.log(k))
    constant = torch.zeros(20, k)
    constant[:, 3] = 1
    scores = metrics.inception_scores(constant)
    assert scores["inception_score"] == pytest.approx(1.0)
    assert scores["h_y"] == pytest.approx(0.0, abs=1e-9)
    uniform = metrics.inception_scores(torch.full((10, k), 1 / k))
    assert uniform["inception_score"] == pytest.approx(1.0) and uniform[
        "h_y_given_x"
    ] == pytest.approx(math.log(k))


def test_accuracy():
    target = torch.tensor([0, 1, 2, 2])
    assert metrics.accuracy(target.clone(), target) == 1.0
    assert metrics.accuracy(torch.eye(3)[target], target) == 1.0  # scores are argmax-ed
    assert metrics.accuracy(torch.zeros(4, dtype=torch.long), target) == 0.25


def test_class_balanced_subset_on_unbalanced_labels():
    labels = torch.tensor([0] * 10 + [1] * 3 + [2] * 5)
    idx = metrics.class_balanced_subset(labels, torch.Generator().manual_seed(0))
    assert torch.bincount(labels[idx]).tolist() == [3, 3, 3]
    assert len(set(idx.tolist())) == 9
    again = metrics.class_balanced_subset(labels, torch.Generator().manual_seed(0))
    assert torch.equal(idx, again)


def test_eer_separated_and_identical():
    same = np.array([True] * 50 + [False] * 50)
    separated = np.r_[np.linspace(0.6, 1, 50), np.linspace(0, 0.4, 50)]
    assert metrics.equal_error_rate(separated, same) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    identical = rng.normal(size=20000)
    same = rng.random(20000) < 0.3
    assert metrics.equal_error_rate(identical, same) == pytest.approx(0.5, abs=0.02)
    reversed_scores = -separated
    assert metrics.equal_error_rate(
        reversed_scores, np.array([True] * 50 + [False] * 50)
    ) == pytest.approx(1.0)


def test_cosine_pairs():
    emb = np.array([[1.0, 0], [2.0, 0], [0, 1.0]])
    scores, same = metrics.cosine_pair_scores(emb, np.array([0, 0, 1]))
    assert scores.tolist() == pytest.approx([1.0, 0.0, 0.0]) and same.tolist() == [
        True,
        False,
        False,
    ]


def test_utterance_eer_pools_the_windows_of_each_utterance():
    from rwae.evaluation.protocol import utterance_eer

    rng = np.random.default_rng(0)
    speaker_of = np.repeat(np.arange(4), 3)  # 12 utterances, 3 per speaker
    utterance = np.repeat(np.arange(12), 5)  # 5 windows each
    speaker = speaker_of[utterance]
    voice = np.eye(4)[speaker] * 10.0  # (60, 4): each speaker's direction
    # each window alone is mostly noise; the mean of an utterance's five is its speaker's
    noise = rng.normal(size=(12, 5, 4))
    noise -= noise.mean(1, keepdims=True)
    windows = voice + 6.0 * noise.reshape(60, 4)
    assert utterance_eer(windows, utterance, speaker) == pytest.approx(0.0)
    assert utterance_eer(np.ones((60, 4)), utterance, speaker) == pytest.approx(0.5, abs=0.02)


def test_cluster_accuracy_matches_permuted_labels():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 9, 500)
    perm = rng.permutation(9)
    assert metrics.cluster_accuracy(perm[labels], labels) == 1.0
    constant = np.zeros(500, int)
    assert metrics.cluster_accuracy(constant, labels) == pytest.approx(
        np.bincount(labels).max() / 500
    )
    noisy = perm[labels].copy()
    noisy[:100] = rng.integers(0, 9, 100)
    assert 0.8 <= metrics.cluster_accuracy(noisy, labels) <= 0.9 + 1e-9


def test_assignment_is_optimal_on_small_matrices():
    import itertools

    rng = np.random.default_rng(1)
    for _ in range(20):
        cost = rng.random((5, 5))
        best = min(sum(cost[i, p[i]] for i in range(5)) for p in itertools.permutations(range(5)))
        cols = metrics._assignment(cost)
        assert sorted(cols) == list(range(5)) and sum(
            cost[i, cols[i]] for i in range(5)
        ) == pytest.approx(best)


def test_mean_std():
    assert metrics.mean_std([1.0, 3.0]) == {"mean": 2.0, "std": 1.0}
    assert metrics.mean_std([2.0]) == {"mean": 2.0, "std": 0.0}


def test_evaluation_does_not_import_training():
    import subprocess
    import sys

    code = "import sys, rwae.evaluation, rwae.evaluation.protocol; print(any(m.startswith('rwae.training') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
