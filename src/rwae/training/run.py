"""`train(config, out)`: the path of `rwae train` — build the datasets, the model and the judge that
a config names, then hand them to a Trainer. Under torchrun, rank 0 builds dataset caches first
while the other ranks wait, then they read the finished cache."""

from __future__ import annotations

import gc
import random
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

from rwae import data as rwae_data
from rwae.config import ExperimentConfig, apply_overrides
from rwae.evaluation.judge import SHIPPED, Judge, judge_dir, load_judge
from rwae.memory import reuse_freed_memory
from rwae.models import RWAE
from rwae.training import checkpoint
from rwae.training.distributed import DistContext, setup, teardown
from rwae.training.trainer import Trainer

T = TypeVar("T")


def rank_zero_first(ctx: DistContext, build: Callable[[], T]) -> T:
    """Run `build` on rank 0, then on the other ranks (which then find rank 0's cache)."""
    if ctx.is_main:
        result = build()
    ctx.barrier()
    if not ctx.is_main:
        result = build()
    return result


def quick_check_judge(config: ExperimentConfig) -> Judge | None:
    """The judge of the in-training check: train.judge, else the shipped judge of the dataset."""
    name = config.train.judge or (config.data.name if config.data.name in SHIPPED else None)
    if not config.train.judge_every or name is None:
        return None
    if not (Path(name).is_dir() or (judge_dir(name) / "config.json").is_file()):
        return None
    with torch.random.fork_rng(
        devices=[]
    ):  # building the judge must not draw from the training RNG
        return load_judge(name)[0]


def trainer_from_config(
    config: ExperimentConfig,
    out: str | Path,
    *,
    ctx: DistContext | None = None,
    resume: bool = False,
    progress: bool = True,
) -> Trainer:
    """A Trainer with the datasets, model and judge that `config` names."""
    ctx = ctx or DistContext()
    d = config.data

    def load(split: str):
        return rwae_data.load(d.name, split, d.root, **d.options)

    train_data = rank_zero_first(ctx, lambda: load(d.train_split))
    val_data = load(d.val_split) if d.val_split else None
    random.seed(config.train.seed)
    torch.manual_seed(config.train.seed)  # identical initial weights on every rank
    return Trainer(
        RWAE(config.model),
        train_data,
        config.train,
        out,
        val_data=val_data,
        judge=quick_check_judge(config) if ctx.is_main else None,
        data_config=d,
        ctx=ctx,
        resume=resume,
        progress=progress,
    )


def train(
    config: ExperimentConfig, out: str | Path, *, resume: bool = False, progress: bool = True
) -> dict:
    """Train (or resume) in this process, or in each process launched by torchrun."""
    ctx = setup(config.train.device)
    try:
        if config.train.reuse_memory and ctx.device.type == "cpu":
            reuse_freed_memory()  # a process-wide allocator setting, asked for by the config
        trainer = trainer_from_config(config, out, ctx=ctx, resume=resume, progress=progress)
        summary = trainer.fit()
        # DDP's reducer (and any gloo work it holds) goes before the process group does; left to
        # the interpreter's exit, it is the likely cause of a rank that once aborted at exit
        del trainer
        return summary
    finally:
        gc.collect()
        teardown(ctx)


def resume_config(out: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """The config a run was started with (from its checkpoint), with `overrides` applied."""
    state = checkpoint.load(Path(out) / "checkpoints" / "last.pt")
    return ExperimentConfig.from_dict(apply_overrides(state["config"], overrides or []))
