"""Training: the loop (trainer), DDP setup (distributed), checkpoints, the batch sampler."""

from rwae.training.trainer import (
    Trainer,
    TrainingDiverged,
    TrainingInterrupted,
    resume_config,
    train,
)
