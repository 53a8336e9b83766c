"""The in-training check: every N steps, the judge scores both directions of disentanglement on a
fixed subset of the test split (reconstruction loss alone hides a static code that swallows the
dynamics, DESIGN.md §1.4). Written to judge.csv; never touches the training RNG stream."""

from __future__ import annotations

from pathlib import Path

import torch

from rwae import data as rwae_data
from rwae.config import ExperimentConfig
from rwae.evaluation.judge import SHIPPED, judge_dir, load_judge
from rwae.evaluation.protocol import encode_all, evaluate_repeat, spread_indices
from rwae.models import RWAE
from rwae.training.metrics_log import append_csv_row, truncate_csv_after

SEED = 12345  # the same draws at every check, so curves compare across steps and runs


class QuickCheck:
    def __init__(self, config: ExperimentConfig, out: Path, device: torch.device) -> None:
        name = config.train.judge or (config.data.name if config.data.name in SHIPPED else None)
        self.enabled = (
            bool(config.train.judge_every)
            and name is not None
            and (Path(name).is_dir() or (judge_dir(name) / "config.json").is_file())
        )
        self.path = out / "judge.csv"
        if not self.enabled:
            return
        with torch.random.fork_rng(
            devices=[]
        ):  # building the judge must not draw from the training RNG
            self.judge, _ = load_judge(name)
        self.judge.to(device)
        test = rwae_data.load(
            config.data.name, config.data.test_split, config.data.root, **config.data.options
        )
        self.test = test
        self.indices = spread_indices(len(test), config.train.judge_sequences)

    @torch.no_grad()
    def __call__(self, model: RWAE, step: int) -> dict[str, float]:
        if not self.enabled:
            return {}
        was_training = model.training
        model.eval()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            codes = encode_all(model, self.test, self.indices, 32, self.judge)
            scores = evaluate_repeat(model, self.judge, codes, SEED, batch_size=32)
        model.train(was_training)
        append_csv_row(
            self.path, {"step": step, **{k: f"{v:.6g}" for k, v in sorted(scores.items())}}
        )
        return scores

    def truncate_after(self, step: int) -> None:
        """On resume, drop checks logged after the checkpoint."""
        truncate_csv_after(self.path, step)
