"""Disentanglement metrics as pure functions: arrays in, floats out, randomness only from a generator."""

from __future__ import annotations

import numpy as np
import torch


def accuracy(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of equal entries (predicted: class indices or (N, K) scores)."""
    if predicted.dim() == target.dim() + 1:
        predicted = predicted.argmax(-1)
    if len(target) == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float((predicted == target).float().mean())


def class_balanced_subset(
    labels: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Indices holding the same number of items of every present class (the minimum count), drawn at random."""
    classes, counts = labels.unique(return_counts=True)
    per_class = int(counts.min())
    picks = []
    for c in classes:
        idx = (labels == c).nonzero().squeeze(1)
        picks.append(idx[torch.randperm(len(idx), generator=generator)[:per_class]])
    return torch.cat(picks).sort().values


def entropy(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shannon entropy in nats (0 log 0 = 0)."""
    return -(p * p.clamp_min(1e-30).log()).sum(dim)


def inception_scores(probs: torch.Tensor) -> dict[str, float]:
    """IS = exp(mean_x KL(p(y|x) || p(y))), H(y|x) = mean entropy of p(y|x), H(y) = entropy of p(y)."""
    probs = probs.double()
    marginal = probs.mean(0)
    kl = (probs * (probs.clamp_min(1e-30).log() - marginal.clamp_min(1e-30).log())).sum(-1)
    return {
        "inception_score": float(kl.mean().exp()),
        "h_y_given_x": float(entropy(probs).mean()),
        "h_y": float(entropy(marginal)),
    }


def equal_error_rate(scores: np.ndarray, same: np.ndarray) -> float:
    """EER: the error rate where false accepts (different pairs scored >= t) equal false rejects."""
    scores, same = np.asarray(scores, np.float64), np.asarray(same, bool)
    if same.all() or not same.any():
        raise ValueError("EER needs both same-class and different-class pairs")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], same[order]
    # thresholds between distinct scores: accept the top k pairs, k = 0..n
    distinct = np.r_[np.flatnonzero(np.diff(s)) + 1, len(s)]
    k = np.r_[0, distinct]
    accepted_same = np.r_[0, np.cumsum(y)[distinct - 1]]
    accepted_diff = k - accepted_same
    false_reject = 1 - accepted_same / y.sum()
    false_accept = accepted_diff / (~y).sum()
    i = int(np.argmin(np.abs(false_accept - false_reject)))
    # interpolate between the two thresholds that bracket the crossing
    if (
        i + 1 < len(k)
        and (false_accept[i] - false_reject[i]) * (false_accept[i + 1] - false_reject[i + 1]) < 0
    ):
        a0, r0, a1, r1 = false_accept[i], false_reject[i], false_accept[i + 1], false_reject[i + 1]
        w = (r0 - a0) / ((a1 - a0) - (r1 - r0))
        return float(a0 + w * (a1 - a0))
    return float((false_accept[i] + false_reject[i]) / 2)


def cosine_pair_scores(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of every unordered pair (i < j) and whether the pair shares a label."""
    e = np.asarray(embeddings, np.float64)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    i, j = np.triu_indices(len(e), k=1)
    return (e[i] * e[j]).sum(1), np.asarray(labels)[i] == np.asarray(labels)[j]


def _assignment(cost: np.ndarray) -> np.ndarray:
    """Minimum-cost assignment for a square matrix (Hungarian algorithm with potentials); col of each row."""
    n = cost.shape[0]
    u, v = np.zeros(n + 1), np.zeros(n + 1)
    match, way = np.zeros(n + 1, int), np.zeros(n + 1, int)
    for i in range(1, n + 1):
        match[0], j0 = i, 0
        minv, used = np.full(n + 1, np.inf), np.zeros(n + 1, bool)
        while True:
            used[j0] = True
            i0, delta, j1 = match[j0], np.inf, 0
            for j in range(1, n + 1):
                if not used[j]:
                    cur = cost[i0 - 1, j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(n + 1):
                if used[j]:
                    u[match[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if match[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            match[j0] = match[j1]
            j0 = j1
    cols = np.zeros(n, int)
    for j in range(1, n + 1):
        if match[j]:
            cols[match[j] - 1] = j - 1
    return cols


def cluster_matching(clusters: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The label of each cluster id under the best one-to-one matching (Hungarian): (K,)."""
    clusters, labels = np.asarray(clusters), np.asarray(labels)
    k = int(max(clusters.max(), labels.max())) + 1
    counts = np.zeros((k, k))
    np.add.at(counts, (clusters, labels), 1)
    return _assignment(-counts)


def cluster_accuracy(clusters: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of cluster ids against labels under the best one-to-one matching (Hungarian)."""
    match = cluster_matching(clusters, labels)
    return float((match[np.asarray(clusters)] == np.asarray(labels)).mean())


def mean_std(values: list[float]) -> dict[str, float]:
    """{"mean", "std"} over repeats (population std; 0 for one repeat)."""
    arr = np.asarray(values, np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std()) if len(arr) > 1 else 0.0}
