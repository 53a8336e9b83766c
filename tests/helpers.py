"""Tiny configurations so model and training tests run in seconds on 2 cores."""

from __future__ import annotations

from rwae.config import ExperimentConfig, ModelConfig, load_config

TINY_MODEL = dict(conv_width=8, frame_dim=32, hidden_dim=32, static_dim=16, dynamic_dim=8)


def tiny_model_config(**overrides) -> ModelConfig:
    return ModelConfig(**{**TINY_MODEL, **overrides})


def tiny_experiment(**sets) -> ExperimentConfig:
    """A Sprites experiment with a tiny model; `sets` are dotted keys, e.g. {"train.steps": 4}."""
    base = {f"model.{k}": v for k, v in TINY_MODEL.items()}
    base.update(
        {
            "train.batch_size": 8,
            "train.steps": 4,
            "train.log_every": 1,
            "train.sample_every": 0,
            "train.checkpoint_every": 0,
            "train.precision": "fp32",  # measured choices could differ between compared runs
        }
    )
    base.update(sets)
    return load_config(None, [f"{k}={v}" for k, v in base.items()])
