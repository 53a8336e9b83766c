"""Judges: classifiers trained with full supervision on real data, then frozen, that score what a
model generates (DESIGN.md §2). Frame encoder -> bi-LSTM -> one head per label.

Sequence heads classify a whole sequence (e.g. action, body); frame heads regress a vector per frame
(e.g. the digit position of Moving MNIST). Judges ship inside the package: evaluation/judges/<name>/.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from rwae.config import from_dict
from rwae.data.paths import package_path
from rwae.errors import RWAEError
from rwae.models.networks import ConvFrameEncoder, mlp

SHIPPED = ("sprites", "smmnist", "fsdd")


@dataclass
class JudgeConfig:
    dataset: str = "sprites"
    frame_shape: list[int] = field(default_factory=lambda: [3, 64, 64])
    conv_width: int = 16
    frame_dim: int = 64
    hidden_dim: int = 64
    sequence_heads: dict[str, int] = field(default_factory=dict)  # label -> number of classes
    frame_heads: dict[str, int] = field(default_factory=dict)  # label -> regression dims per frame
    frame_head_scale: float = 1.0  # regression targets are divided by this
    static_labels: list[str] = field(default_factory=list)
    dynamic_labels: list[str] = field(default_factory=list)


class Judge(nn.Module):
    def __init__(self, config: JudgeConfig) -> None:
        super().__init__()
        self.config = c = config
        if len(c.frame_shape) == 3:
            self.frame_encoder = ConvFrameEncoder(
                c.frame_shape[0], c.frame_shape[1], c.conv_width, c.frame_dim
            )
        else:
            self.frame_encoder = mlp(c.frame_shape[0], c.hidden_dim, c.frame_dim)
        self.lstm = nn.LSTM(c.frame_dim, c.hidden_dim, batch_first=True, bidirectional=True)
        self.sequence_heads = nn.ModuleDict(
            {k: nn.Linear(2 * c.hidden_dim, n) for k, n in c.sequence_heads.items()}
        )
        self.frame_heads = nn.ModuleDict(
            {k: nn.Linear(2 * c.hidden_dim, n) for k, n in c.frame_heads.items()}
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B, T, ...) -> {sequence head: logits (B, K), frame head: values (B, T, D) in label units}."""
        b, t = x.shape[:2]
        e = self.frame_encoder(x.flatten(0, 1)).unflatten(0, (b, t))  # (B*T, F) -> (B, T, F)
        hs, (h_n, _) = self.lstm(e)
        pooled = torch.cat([h_n[0], h_n[1]], -1)
        out = {k: head(pooled) for k, head in self.sequence_heads.items()}
        out.update(
            {k: head(hs) * self.config.frame_head_scale for k, head in self.frame_heads.items()}
        )
        return out

    def set_channels_last(self, enabled: bool = True) -> Judge:
        """channels_last convolutions for an image judge (faster on CPU; a no-op for features)."""
        if isinstance(self.frame_encoder, ConvFrameEncoder):
            fmt = torch.channels_last if enabled else torch.contiguous_format
            self.frame_encoder.to(memory_format=fmt)
            self.frame_encoder.channels_last = enabled
        return self

    @torch.inference_mode()
    def predict(self, x: torch.Tensor, batch_size: int = 256) -> dict[str, torch.Tensor]:
        """Eval-mode outputs for many sequences, in batches: probabilities for sequence heads."""
        self.eval()
        parts: dict[str, list[torch.Tensor]] = {}
        for start in range(0, len(x), batch_size):
            for k, v in self(x[start : start + batch_size]).items():
                parts.setdefault(k, []).append(
                    torch.softmax(v.float(), -1) if k in self.sequence_heads else v.float()
                )
        return {k: torch.cat(v) for k, v in parts.items()}

    def save(self, directory: str | os.PathLike, results: dict | None = None) -> Path:
        from safetensors.torch import save_model

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_model(self, str(directory / "model.safetensors"))
        (directory / "config.json").write_text(
            json.dumps(dataclasses.asdict(self.config), indent=2) + "\n"
        )
        if results is not None:
            (directory / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        return directory


def judge_dir(name: str) -> Path:
    return package_path("evaluation", "judges", name)


def load_judge(name_or_dir: str | os.PathLike) -> tuple[Judge, dict]:
    """A shipped judge by dataset name, or one from a folder; returns (judge in eval mode, its results)."""
    from safetensors.torch import load_model

    directory = judge_dir(str(name_or_dir)) if str(name_or_dir) in SHIPPED else Path(name_or_dir)
    if not (directory / "config.json").is_file():
        raise RWAEError(
            f"no judge at {directory}: expected config.json, model.safetensors and results.json (train one with `rwae judge train`)"
        )
    config = from_dict(JudgeConfig, json.loads((directory / "config.json").read_text()), "judge.")
    judge = Judge(config)
    load_model(judge, str(directory / "model.safetensors"), strict=True)
    results_path = directory / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results.setdefault("path", str(directory))
    return judge.eval(), results


def judge_config_for(dataset: str) -> JudgeConfig:
    """The judge architecture and heads used for each built-in dataset."""
    if dataset == "sprites":
        return JudgeConfig(
            dataset="sprites",
            sequence_heads={"action": 9, "body": 6, "bottom": 6, "top": 6, "hair": 6},
            static_labels=["body", "bottom", "top", "hair"],
            dynamic_labels=["action"],
        )
    if dataset == "smmnist":
        # digit identity, and the top-left (y, x) corner of the digit in every frame (motion)
        return JudgeConfig(
            dataset="smmnist",
            frame_shape=[1, 64, 64],
            sequence_heads={"digit": 10},
            frame_heads={"positions": 2},
            frame_head_scale=36.0,
            static_labels=["digit"],
            dynamic_labels=["positions"],
        )
    if dataset == "fsdd":
        return JudgeConfig(
            dataset="fsdd",
            frame_shape=[64],
            hidden_dim=128,
            frame_dim=128,
            sequence_heads={"speaker": 6, "digit": 10},
            static_labels=["speaker"],
            dynamic_labels=["digit"],
        )
    raise RWAEError(
        f"no judge is defined for dataset {dataset!r}; judges exist for {', '.join(SHIPPED)}"
    )
