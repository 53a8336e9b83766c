"""The field's evaluation protocol (DESIGN.md §2) for a trained model, a dataset and a judge.

Per repeat r (generator seeded with seed + r), on the test sequences:
- resample static  (keep dynamics + action, z^c ~ N(0, I)): accuracy of each dynamic label
  (e.g. `action_acc`), IS / H(y|x) / H(y) of the judge on a class-balanced subset; for positions
  (Moving MNIST) the mean absolute error of the judged track, `motion_error` (pixels);
- resample dynamics (keep z^c, a ~ uniform, z^m ~ prior): accuracy of each static label
  (`attribute_acc` + `attribute_acc.<name>` with several static labels, else `<name>_acc`);
- swap (static of x1, dynamics of x2 = a random permutation of x1): `swap_<dynamic>_acc`,
  `swap_attribute_acc` / `swap_<static>_acc`;
- unconditional samples: `gen_inception_score`, `gen_h_y_given_x`, `gen_h_y`;
  `gen_action_consistency` (the judged action of each sample's first half against its second half)
  and `gen_attribute_confidence` (the judge's mean top probability on the static labels);
- `recon_mse` (posterior means, per element); the judge on those reconstructions, `recon_<label>_acc`
  / `recon_attribute_acc` (what the decoder draws at all: a ceiling for both directions above);
  with an action code, `action_categories_used` (categories that are some sequence's most likely
  one), `action_cluster_acc` (Hungarian) and `gen_by_action_acc` (samples generated
  with each category in turn, judged against the action the category is matched to).
Audio without a judge still gets `eer_static`, `eer_dynamic`, `eer_gap` (speaker verification).
Nothing here imports training code.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from rwae.data.dataset import fetch
from rwae.evaluation import metrics
from rwae.evaluation.judge import Judge
from rwae.models import RWAE


def spread_indices(total: int, n: int) -> list[int]:
    """n indices spread evenly over 0..total-1 (every class of a sorted split is represented)."""
    return np.linspace(0, total - 1, min(n, total)).round().astype(int).tolist()


@torch.inference_mode()
def encode_all(
    model: RWAE, dataset, indices: list[int], batch_size: int, judge: Judge | None = None
) -> dict[str, torch.Tensor]:
    """Posterior means (and action code) plus labels for many sequences, in batches; with a judge,
    also its predictions on the reconstructions (`recon_judged.<head>`)."""
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(indices), batch_size):
        batch = fetch(dataset, indices[start : start + batch_size])
        x = batch.pop("x").to(model.device)
        post = model.encode(x)
        recon = model.decode(post.static_mean, post.dynamic_mean, post.action)
        parts.setdefault("static", []).append(post.static_mean)
        parts.setdefault("dynamic", []).append(post.dynamic_mean)
        parts.setdefault("recon_sq_error", []).append(((recon - x) ** 2).flatten(1).mean(1))
        if judge is not None:
            for k, v in judge.predict(recon, batch_size=batch_size).items():
                parts.setdefault(f"recon_judged.{k}", []).append(v.cpu())
        if post.action is not None:
            parts.setdefault("action", []).append(post.action)
            parts.setdefault("action_logits", []).append(post.action_logits)
        for k, v in batch.items():
            parts.setdefault(f"label.{k}", []).append(v)
    return {k: torch.cat(v) for k, v in parts.items()}


@torch.inference_mode()
def judge_generated(
    model: RWAE,
    judge: Judge,
    static: torch.Tensor,
    dynamic: torch.Tensor,
    action: torch.Tensor | None,
    batch_size: int,
    halves: bool = False,
) -> dict[str, torch.Tensor]:
    """Decode codes in batches and let the judge score each batch (nothing large is kept). With
    `halves`, the sequence heads also judge each half of every sequence on its own
    (`first_half.<head>`, `second_half.<head>`)."""
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(static), batch_size):
        sl = slice(start, start + batch_size)
        x = model.decode(static[sl], dynamic[sl], None if action is None else action[sl])
        views = {"": x}
        if halves:
            middle = x.shape[1] // 2
            views.update({"first_half.": x[:, :middle], "second_half.": x[:, middle:]})
        for prefix, view in views.items():
            for k, v in judge.predict(view, batch_size=batch_size).items():
                if prefix and k not in judge.config.sequence_heads:
                    continue
                parts.setdefault(prefix + k, []).append(v.cpu())
    return {k: torch.cat(v) for k, v in parts.items()}


def generation_scores(judged: dict[str, torch.Tensor], judge: Judge, dynamic_class: str) -> dict:
    """Of unconditional samples: IS, H(y|x), H(y) of the dynamic class; judged with halves, how often
    the judged class of a sample's first half agrees with its second half (`gen_<class>_consistency`;
    1.0 on real Sprites); the judge's mean confidence (top probability) on the static labels
    (`gen_attribute_confidence`: do z^c ~ N(0, I) decode to characters the judge recognises?)."""
    out = {f"gen_{k}": v for k, v in metrics.inception_scores(judged[dynamic_class]).items()}
    if f"first_half.{dynamic_class}" in judged:
        first = judged[f"first_half.{dynamic_class}"].argmax(-1)
        second = judged[f"second_half.{dynamic_class}"].argmax(-1)
        out[f"gen_{dynamic_class}_consistency"] = float((first == second).float().mean())
    static = [k for k in judge.config.static_labels if k in judge.config.sequence_heads]
    if static:
        top = torch.stack([judged[k].max(-1).values for k in static])  # (labels, N)
        name = "attribute" if len(static) > 1 else static[0]
        out[f"gen_{name}_confidence"] = float(top.mean())
    return out


def _label_targets(codes: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    v = codes[f"label.{name}"]
    return v[:, :, 0].float() if v.dim() == 4 else v  # positions (N, T, n, 2): the first digit


def _score(
    judged: dict,
    codes: dict,
    labels: list[str],
    judge: Judge,
    prefix: str,
    group: str | None,
    perm=None,
) -> dict:
    """Accuracy (classification heads) or mean absolute error (frame heads) against true labels."""
    out: dict[str, float] = {}
    accs = []
    for name in labels:
        target = _label_targets(codes, name)
        if perm is not None:
            target = target[perm]
        if name in judge.config.frame_heads:
            out[f"{prefix}motion_error"] = float((judged[name] - target).abs().mean())
            continue
        acc = metrics.accuracy(judged[name], target)
        accs.append(acc)
        if group is None or len(labels) == 1:
            out[f"{prefix}{name}_acc"] = acc
        else:
            out[f"{prefix}{group}_acc.{name}"] = acc
    if group is not None and len(accs) > 1:
        out[f"{prefix}{group}_acc"] = float(np.mean(accs))
    return out


@torch.inference_mode()
def evaluate_repeat(
    model: RWAE, judge: Judge | None, codes: dict[str, torch.Tensor], seed: int, batch_size: int
) -> dict[str, float]:
    """All judge-based metrics for one repeat, from precomputed posterior codes."""
    g = torch.Generator(device=model.device).manual_seed(
        seed
    )  # codes are drawn on the model's device
    g_cpu = torch.Generator().manual_seed(seed)  # subsets and permutations
    n, length = codes["dynamic"].shape[:2]
    action = codes.get("action")
    results: dict[str, float] = {"recon_mse": float(codes["recon_sq_error"].mean())}
    if "action_logits" in codes:
        clusters = codes["action_logits"].argmax(-1).cpu().numpy()
        # how many categories are some sequence's most likely one (a used code: A)
        results["action_categories_used"] = float(len(set(clusters.tolist())))
        if "label.action" in codes:
            results["action_cluster_acc"] = metrics.cluster_accuracy(
                clusters, codes["label.action"].cpu().numpy()
            )
    if judge is None:
        return results
    static_labels, dynamic_labels = judge.config.static_labels, judge.config.dynamic_labels
    dynamic_class = next((k for k in dynamic_labels if k in judge.config.sequence_heads), None)

    # the reconstructions (posterior means; the same in every repeat): what the decoder can draw
    # at all bounds both directions below
    judged = {k.split(".", 1)[1]: v for k, v in codes.items() if k.startswith("recon_judged.")}
    if judged:
        results.update(_score(judged, codes, dynamic_labels, judge, "recon_", None))
        results.update(_score(judged, codes, static_labels, judge, "recon_", "attribute"))

    # fix dynamics, resample static (from N(0, I))
    z_c = model.generative.sample_static(n, g)
    judged = judge_generated(model, judge, z_c, codes["dynamic"], action, batch_size)
    results.update(_score(judged, codes, dynamic_labels, judge, "", None))
    if dynamic_class is not None:
        balanced = metrics.class_balanced_subset(codes[f"label.{dynamic_class}"].cpu(), g_cpu)
        results.update(metrics.inception_scores(judged[dynamic_class][balanced]))

    # fix static, resample dynamics (and the action code) from the learned prior, its own first
    # step included (the prior the encoder was trained against, also for a model with a fitted start)
    a = model.generative.sample_actions(n, g)
    z_m = sample_dynamics_batched(model, n, length, a, g, batch_size, fitted_start=False)
    judged = judge_generated(model, judge, codes["static"], z_m, a, batch_size)
    results.update(_score(judged, codes, static_labels, judge, "", "attribute"))

    # swap: static of x1, dynamics (and action) of x2 = a random other sequence
    perm = torch.randperm(n, generator=g_cpu)
    on_device = perm.to(model.device)
    judged = judge_generated(
        model,
        judge,
        codes["static"],
        codes["dynamic"][on_device],
        None if action is None else action[on_device],
        batch_size,
    )
    results.update(_score(judged, codes, dynamic_labels, judge, "swap_", None, perm))
    results.update(_score(judged, codes, static_labels, judge, "swap_", "attribute"))

    # generation by action: every category of the action code in turn; the judge's action must be
    # the one the code's category stands for (the Hungarian matching of the test clusters)
    if "action_logits" in codes and dynamic_class == "action" and "label.action" in codes:
        matching = metrics.cluster_matching(
            codes["action_logits"].argmax(-1).cpu().numpy(), codes["label.action"].cpu().numpy()
        )
        categories = torch.arange(n, device=model.device) % model.config.num_actions
        a = torch.nn.functional.one_hot(categories, model.config.num_actions).float()
        z_m = sample_dynamics_batched(model, n, length, a, g, batch_size)
        z_c = model.generative.sample_static(n, g)
        judged = judge_generated(model, judge, z_c, z_m, a, batch_size)
        wanted = torch.from_numpy(matching[categories.cpu().numpy()])
        results["gen_by_action_acc"] = metrics.accuracy(judged["action"], wanted)

    # unconditional generation
    if dynamic_class is not None:
        a = model.generative.sample_actions(n, g)
        z_c = model.generative.sample_static(n, g)
        z_m = sample_dynamics_batched(model, n, length, a, g, batch_size)
        # halves: an action holds for a whole video; a spoken digit is not heard in half a window
        halves = model.config.is_image
        judged = judge_generated(model, judge, z_c, z_m, a, batch_size, halves=halves)
        results.update(generation_scores(judged, judge, dynamic_class))
    return results


def sample_dynamics_batched(
    model: RWAE,
    n: int,
    length: int,
    a: torch.Tensor | None,
    generator: torch.Generator,
    batch_size: int,
    fitted_start: bool = True,
) -> torch.Tensor:
    """z^m_1..T for n sequences from the learned prior (conditioned on a, if given; z^m_1 from the
    fitted start, if any, unless not `fitted_start`), in batches."""
    parts = []
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        parts.append(
            model.generative.sample_dynamics(
                stop - start,
                length,
                None if a is None else a[start:stop],
                generator,
                fitted_start,
            )
        )
    return torch.cat(parts)


def utterance_eer(embeddings: np.ndarray, utterance: np.ndarray, speaker: np.ndarray) -> float:
    """Speaker-verification EER of per-utterance embeddings: the windows of each utterance averaged,
    cosine scores over all pairs of utterances. embeddings: (N, D) per window; utterance, speaker: (N,)."""
    ids, first = np.unique(utterance, return_index=True)
    pooled = np.stack([embeddings[utterance == u].mean(0) for u in ids])  # (utterances, D)
    return metrics.equal_error_rate(*metrics.cosine_pair_scores(pooled, speaker[first]))


def speaker_eer(codes: dict[str, torch.Tensor], speaker_label: str = "speaker") -> dict[str, float]:
    """Speaker verification: per utterance, average static codes (and dynamic codes over time and
    segments); cosine scores over all pairs of test utterances; EER of each."""
    utterance = codes["label.utterance"].cpu().numpy()
    speaker = codes[f"label.{speaker_label}"].cpu().numpy()
    eer_s = utterance_eer(codes["static"].cpu().numpy(), utterance, speaker)
    eer_d = utterance_eer(codes["dynamic"].mean(1).cpu().numpy(), utterance, speaker)
    return {
        "eer_static": eer_s,
        "eer_dynamic": eer_d,
        "eer_gap": eer_d - eer_s,
        "num_utterances": float(len(np.unique(utterance))),
    }


def evaluate(
    model: RWAE,
    dataset,
    judge: Judge | None,
    *,
    repeats: int = 5,
    seed: int = 0,
    limit: int | None = None,
    batch_size: int = 32,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Every metric that applies, as {"metrics": {name: {"mean", "std"}}, "per_repeat": [...], ...}."""
    start = time.perf_counter()
    model.eval()
    if judge is not None:
        judge.to(model.device).eval()
    n = len(dataset) if limit is None else min(limit, len(dataset))
    indices = list(range(n))
    if limit is not None and limit < len(dataset):  # a spread-out subset, the same for every model
        indices = spread_indices(len(dataset), n)
    codes = encode_all(model, dataset, indices, batch_size, judge)
    per_repeat = []
    for r in range(repeats):
        if progress:
            progress(f"repeat {r + 1}/{repeats}")
        per_repeat.append(evaluate_repeat(model, judge, codes, seed + r, batch_size))
    fixed = {}
    if "label.utterance" in codes and "label.speaker" in codes:
        fixed = speaker_eer(codes)  # deterministic: posterior means only
    names = sorted(per_repeat[0])
    summary = {k: metrics.mean_std([rep[k] for rep in per_repeat]) for k in names}
    summary.update({k: {"mean": v, "std": 0.0} for k, v in fixed.items()})
    return {
        "metrics": summary,
        "per_repeat": per_repeat,
        "num_sequences": n,
        "repeats": repeats,
        "seed": seed,
        "elapsed_s": round(time.perf_counter() - start, 2),
    }
