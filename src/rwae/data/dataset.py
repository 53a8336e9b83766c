"""The one Dataset type every loader returns: sequences plus integer labels, as dicts of tensors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

LAYOUTS = ("NTHWC", "NTCHW", "NTD")


@dataclass
class DatasetInfo:
    """What a model or an evaluator needs to know about a dataset, without reading items."""

    name: str
    kind: str  # "image" or "features"
    seq_len: int
    frame_shape: tuple[int, ...]  # (C, H, W) for images, (D,) for features
    label_classes: dict[str, int] = field(default_factory=dict)  # label name -> number of classes
    static_labels: tuple[
        str, ...
    ] = ()  # labels constant in time (judged under "resample dynamics")
    dynamic_labels: tuple[str, ...] = ()  # labels carried by the dynamics
    extra: dict[str, Any] = field(default_factory=dict)


class SequenceDataset(Dataset):
    """Sequences stored as one array (possibly a read-only memmap) plus per-sequence label arrays.

    `frames` layouts: "NTHWC" uint8 images (items become (T, C, H, W) float32 = uint8 / 255),
    "NTCHW" uint8 or float images, or "NTD" float features. Items are dicts with "x" and one int per
    label; labels with extra dimensions (e.g. per-frame positions) are returned as tensors.
    """

    def __init__(
        self,
        frames: np.ndarray,
        labels: dict[str, np.ndarray],
        info: DatasetInfo,
        *,
        layout: str,
        indices: np.ndarray | None = None,
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        self.frames = frames
        self.layout = layout
        self.info = info
        self.indices = (
            np.arange(len(frames)) if indices is None else np.asarray(indices, dtype=np.int64)
        )
        self._labels = labels

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def labels(self) -> dict[str, np.ndarray]:
        """Label arrays of this split, aligned with item order."""
        return {k: v[self.indices] for k, v in self._labels.items()}

    def to_tensor(self, raw: np.ndarray) -> torch.Tensor:
        """Raw stored frames of one or more sequences -> float32 (..., T, C, H, W) or (..., T, D)."""
        x = torch.from_numpy(np.array(raw))  # copy: memmaps are read-only
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        if self.layout == "NTHWC":
            x = x.movedim(-1, -3)  # (..., T, H, W, C) -> (..., T, C, H, W)
        return x

    def __getitem__(self, i: int) -> dict[str, Any]:
        j = int(self.indices[i])
        item: dict[str, Any] = {"x": self.to_tensor(self.frames[j])}
        for name, values in self._labels.items():
            v = values[j]
            item[name] = int(v) if np.ndim(v) == 0 else torch.from_numpy(np.asarray(v))
        return item

    def batch(self, idx: np.ndarray | list[int]) -> dict[str, torch.Tensor]:
        """Several items at once, stacked: {"x": (B, T, ...), label: (B, ...)} (fast path for evaluation)."""
        rows = self.indices[np.asarray(idx, dtype=np.int64)]
        order = np.argsort(rows)  # memmaps read fastest in increasing order
        raw = self.frames[rows[order]]
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        out = {"x": self.to_tensor(raw[inverse])}
        for name, values in self._labels.items():
            out[name] = torch.from_numpy(np.asarray(values[rows]))
        return out

    def __getitems__(self, idx: list[int]) -> dict[str, torch.Tensor]:
        """DataLoader's batched fetch: one stacked batch instead of a list of items."""
        return self.batch(idx)

    def __repr__(self) -> str:
        shape = (len(self), self.info.seq_len, *self.info.frame_shape)
        return f"SequenceDataset({self.info.name!r}, items={shape}, labels={list(self._labels)})"


def collate(batch: dict | list) -> dict[str, torch.Tensor]:
    """DataLoader collate_fn that accepts a ready batch (from __getitems__) or a list of items."""
    return batch if isinstance(batch, dict) else default_collate(batch)


def fetch(dataset: Dataset, indices: list[int] | np.ndarray) -> dict[str, torch.Tensor]:
    """A stacked batch of any dataset's items (the fast path when it has `batch`)."""
    if hasattr(dataset, "batch"):
        return dataset.batch(indices)
    return default_collate([dataset[int(i)] for i in indices])
