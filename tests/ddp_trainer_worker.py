"""Run under torchrun by tests/test_distributed.py: a Trainer handed Python objects — a model with
a parameter no loss reaches and an in-memory dataset — trains under DDP; rank 0 builds first."""

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rwae import RWAE
from rwae.config import ModelConfig, TrainConfig
from rwae.data import DatasetInfo, SequenceDataset
from rwae.training import Trainer
from rwae.training.distributed import setup, teardown
from rwae.training.run import rank_zero_first


class WithUnusedPart(RWAE):
    """An R-WAE with one more layer that no loss term reaches (its parameters get no gradient)."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self.unused = nn.Linear(3, 3)


def main(out: str) -> None:
    ctx = setup("cpu")
    marks = Path(out) / "marks"

    def build() -> bool:  # rank 0 must have finished before any other rank starts
        marks.mkdir(parents=True, exist_ok=True)
        first_done = (marks / "rank0").exists()
        (marks / f"rank{ctx.rank}").touch()
        return ctx.rank == 0 or first_done

    ordered = rank_zero_first(ctx, build)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((32, 6, 20)).astype(np.float32)
    info = DatasetInfo("noise", "features", 6, (20,))
    data = SequenceDataset(frames, {}, info, layout="NTD")
    small = dict(frame_dim=16, hidden_dim=16, static_dim=8, dynamic_dim=4)
    model = WithUnusedPart(ModelConfig(frame_shape=[20], decoder="frame", **small))
    config = TrainConfig(steps=3, batch_size=8, log_every=1, sample_every=0, checkpoint_every=0)
    trainer = Trainer(model, data, config, Path(out) / "run", ctx=ctx, progress=False)
    summary = trainer.fit()
    del trainer  # DDP goes before the process group
    teardown(ctx)
    ok = ordered and (ctx.rank != 0 or summary["steps"] == 3)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main(sys.argv[1])
