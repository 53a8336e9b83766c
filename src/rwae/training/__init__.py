"""Training: the loop (trainer: a Trainer takes a model and datasets), the config path (run:
train(config) builds them), DDP setup (distributed), checkpoints, the batch sampler."""

from rwae.training.run import resume_config, train, trainer_from_config
from rwae.training.trainer import Trainer, TrainingDiverged, TrainingInterrupted
