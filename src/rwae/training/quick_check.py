"""The in-training check: every N steps, the judge scores both directions of disentanglement on a
fixed subset of the validation data (reconstruction loss alone hides a static code that swallows
the dynamics, DESIGN.md §1.4). Written to judge.csv; never touches the training RNG stream."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from rwae.evaluation.judge import Judge
from rwae.evaluation.protocol import encode_all, evaluate_repeat, spread_indices
from rwae.models import RWAE
from rwae.training.metrics_log import append_csv_row, truncate_csv_after

SEED = 12345  # the same draws at every check, so curves compare across steps and runs


class QuickCheck:
    """Off unless both validation data and a judge are given."""

    def __init__(
        self, data: Dataset | None, judge: Judge | None, out: Path, sequences: int = 270
    ) -> None:
        self.enabled = data is not None and judge is not None
        self.path = out / "judge.csv"
        self.data, self.judge = data, judge
        if self.enabled:
            self.indices = spread_indices(len(data), sequences)

    @torch.no_grad()
    def __call__(self, model: RWAE, step: int, extra: dict | None = None) -> dict[str, float]:
        """Score `model` at `step`; `extra` columns (e.g. the CPU seconds so far) go beside."""
        if not self.enabled:
            return {}
        was_training = model.training
        model.eval()
        self.judge.to(model.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            codes = encode_all(model, self.data, self.indices, 32, self.judge)
            scores = evaluate_repeat(model, self.judge, codes, SEED, batch_size=32)
        model.train(was_training)
        row = {k: f"{v:.6g}" for k, v in sorted(scores.items())}
        append_csv_row(self.path, {"step": step, **(extra or {}), **row})
        return scores

    def truncate_after(self, step: int) -> None:
        """On resume, drop checks logged after the checkpoint."""
        truncate_csv_after(self.path, step)
