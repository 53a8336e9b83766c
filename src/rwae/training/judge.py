"""Train a judge (rwae.evaluation.judge) with full supervision on a dataset's real train split."""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from rwae import data as rwae_data
from rwae.data.dataset import fetch
from rwae.evaluation.judge import Judge, JudgeConfig, judge_config_for
from rwae.provenance import provenance

# Test-split options used when scoring a judge (smmnist: a fixed 2,000-sequence subset of its 10,000).
TEST_OPTIONS = {"smmnist": {"size": 2000}}


def judge_targets(batch: dict[str, torch.Tensor], config: JudgeConfig) -> dict[str, torch.Tensor]:
    targets = {k: batch[k].long() for k in config.sequence_heads}
    for k in config.frame_heads:
        v = batch[k].float()
        targets[k] = v[:, :, 0] if v.dim() == 4 else v  # (B, T, n, D): the first object's track
    return targets


def judge_loss(outputs: dict, targets: dict, config: JudgeConfig) -> torch.Tensor:
    loss = sum(F.cross_entropy(outputs[k], targets[k]) for k in config.sequence_heads)
    for k in config.frame_heads:
        loss = loss + F.mse_loss(
            outputs[k] / config.frame_head_scale, targets[k] / config.frame_head_scale
        )
    return loss


@torch.no_grad()
def score_judge(judge: Judge, dataset, batch_size: int = 128) -> dict[str, float]:
    """Per-head test accuracy (sequence heads) and mean absolute error (frame heads)."""
    judge.eval()
    correct: dict[str, float] = {}
    error: dict[str, float] = {}
    n = len(dataset)
    for start in range(0, n, batch_size):
        batch = fetch(dataset, list(range(start, min(n, start + batch_size))))
        targets = judge_targets(batch, judge.config)
        out = judge(batch["x"])
        for k in judge.config.sequence_heads:
            correct[k] = correct.get(k, 0.0) + float((out[k].argmax(-1) == targets[k]).sum())
        for k in judge.config.frame_heads:
            error[k] = error.get(k, 0.0) + float((out[k] - targets[k]).abs().mean((1, 2)).sum())
    result = {f"accuracy.{k}": v / n for k, v in correct.items()}
    result.update({f"mean_abs_error.{k}": v / n for k, v in error.items()})
    return result


def train_judge(
    dataset: str,
    out: str | Path,
    *,
    steps: int = 3000,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    root: str | None = None,
    progress: bool = True,
) -> dict:
    """Train the judge of `dataset`, score it on the test split, save it to `out`; returns results."""
    torch.manual_seed(seed)
    config = judge_config_for(dataset)
    train = rwae_data.load(dataset, "train", root)
    test = rwae_data.load(dataset, "test", root, **TEST_OPTIONS.get(dataset, {}))
    judge = Judge(config)
    optimizer = torch.optim.Adam(judge.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    g = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    judge.train()
    bar = tqdm(range(steps), desc=f"judge {dataset}", disable=None if progress else True)
    for _ in bar:
        idx = torch.randint(len(train), (batch_size,), generator=g).tolist()
        batch = fetch(train, idx)
        loss = judge_loss(judge(batch["x"]), judge_targets(batch, config), config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        bar.set_postfix(loss=f"{loss.item():.4f}")
    seconds = time.perf_counter() - start
    scores = score_judge(judge, test)
    results = {
        "dataset": dataset,
        "test": scores,
        "test_sequences": len(test),
        "test_options": TEST_OPTIONS.get(dataset, {}),
        "train": {
            "steps": steps,
            "batch_size": batch_size,
            "lr": lr,
            "seed": seed,
            "seconds": round(seconds, 1),
        },
        **provenance(),
    }
    judge.save(out, results)
    return results
