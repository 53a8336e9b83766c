"""Evaluation: judges, the field's metrics and protocol, results files and pictures.

Imports nothing from rwae.training.
"""

from rwae.evaluation.judge import Judge, JudgeConfig, load_judge
from rwae.evaluation.protocol import evaluate
