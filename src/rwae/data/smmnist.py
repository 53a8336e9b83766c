"""Stochastic Moving MNIST (Denton & Fergus 2018): 28x28 digits bouncing in 64x64 frames.

Each digit starts at a random position with a random integer velocity in [-4, 4]^2; when it hits a
wall it is put back inside and gets a new random velocity pointing away from that wall. Sequences are
generated on the fly from a per-item seed, so item i of a split is the same array on every machine
and in every worker; the cache only holds the decoded MNIST digits (train digits for the train, val
and train_full splits, t10k digits for test; see SPLIT_CODES).
"""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from rwae.data.dataset import DatasetInfo
from rwae.data.paths import atomic_directory, cache_dir, locate_raw, write_json
from rwae.errors import DataError

BUILD_VERSION = 1
CANVAS = 64
DIGIT = 28
MAX_SPEED = 4
RAW_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# Each split draws its sequences from its own random stream and its own digit images: train from
# the first 54,000 MNIST training digits, val from the last 6,000, train_full from all 60,000
# (the stream of the split that was "train" before val existed), test from the t10k digits.
SPLIT_CODES = {"train": 0, "test": 1, "val": 2, "train_full": 0}
VAL_DIGITS = 6000
DEFAULT_SIZES = {"train": 54_000, "val": 6_000, "train_full": 60_000, "test": 10_000}


def read_idx(path: Path, magic: int) -> np.ndarray:
    """An MNIST idx file (gzip) -> uint8 array; images (N, 28, 28), labels (N,)."""
    try:
        with gzip.open(path, "rb") as f:
            buf = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable gzip idx file ({e})") from e
    found = int.from_bytes(buf[:4], "big")
    if found != magic:
        raise DataError(f"{path}: idx magic number {found}, expected {magic}")
    n = int.from_bytes(buf[4:8], "big")
    if magic == 2051:
        rows, cols = int.from_bytes(buf[8:12], "big"), int.from_bytes(buf[12:16], "big")
        shape, offset = (n, rows, cols), 16
    else:
        shape, offset = (n,), 8
    data = np.frombuffer(buf, np.uint8, offset=offset)
    if data.size != int(np.prod(shape)):
        raise DataError(
            f"{path}: {data.size} bytes of data, expected {int(np.prod(shape))} for shape {shape}"
        )
    return data.reshape(shape)


def build(root: str | os.PathLike | None = None, cache: str | os.PathLike | None = None) -> Path:
    """Decode and verify the four MNIST files once; returns the cache folder with digits.npz."""
    final = cache_dir(cache) / f"mnist-v{BUILD_VERSION}"
    if (final / "meta.json").is_file():
        return final
    start = time.perf_counter()
    raw = locate_raw("mnist", [f for pair in RAW_FILES.values() for f in pair], root)
    arrays = {}
    for split, (images, labels) in RAW_FILES.items():
        arrays[f"{split}_images"] = read_idx(raw / images, 2051)
        arrays[f"{split}_labels"] = read_idx(raw / labels, 2049)
        if len(arrays[f"{split}_images"]) != len(arrays[f"{split}_labels"]):
            raise DataError(
                f"{raw / labels}: {len(arrays[f'{split}_labels'])} labels for {len(arrays[f'{split}_images'])} images"
            )
    with atomic_directory(final) as tmp:
        np.savez(tmp / "digits.npz", **arrays)
        write_json(
            tmp / "meta.json",
            {
                "dataset": "mnist",
                "source": str(raw),
                "build_seconds": round(time.perf_counter() - start, 2),
            },
        )
    return final


def bounce_trajectory(rng: np.random.Generator, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners (T, 2) as (y, x) and velocities (T, 2) of one digit, stochastic bounces."""
    limit = CANVAS - DIGIT  # corner coordinates stay in [0, limit]
    pos = rng.integers(0, limit + 1, size=2)
    vel = rng.integers(-MAX_SPEED, MAX_SPEED + 1, size=2)
    positions = np.empty((seq_len, 2), np.int64)
    velocities = np.empty((seq_len, 2), np.int64)
    for t in range(seq_len):
        for axis in range(2):
            other = 1 - axis
            if pos[axis] < 0:
                pos[axis] = 0
                vel[axis] = rng.integers(1, MAX_SPEED + 1)
                vel[other] = rng.integers(-MAX_SPEED, MAX_SPEED + 1)
            elif pos[axis] > limit:
                pos[axis] = limit
                vel[axis] = -rng.integers(1, MAX_SPEED + 1)
                vel[other] = rng.integers(-MAX_SPEED, MAX_SPEED + 1)
        positions[t] = pos
        velocities[t] = vel
        pos = pos + vel
    return positions, velocities


class StochasticMovingMNIST(Dataset):
    """Item i: {"x": (T, 1, 64, 64) float32 in [0, 1], "digit", "digits" (n,), "positions" (T, n, 2)
    top-left (y, x) corners, "velocities" (T, n, 2)}; deterministic for (seed, split, i)."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        split: str,
        size: int,
        seq_len: int,
        num_digits: int,
        seed: int,
    ) -> None:
        if seq_len < 1 or num_digits < 1 or size < 1:
            raise DataError(
                f"smmnist: seq_len, num_digits and size must be >= 1, got {seq_len}, {num_digits}, {size}"
            )
        self.images, self.digit_labels = images, labels
        self.split, self.size, self.seq_len, self.num_digits, self.seed = (
            split,
            size,
            seq_len,
            num_digits,
            seed,
        )
        self.info = DatasetInfo(
            name="smmnist",
            kind="image",
            seq_len=seq_len,
            frame_shape=(1, CANVAS, CANVAS),
            label_classes={"digit": 10},
            static_labels=("digit",),
            dynamic_labels=("velocities",),
            extra={"num_digits": num_digits},
        )

    def __len__(self) -> int:
        return self.size

    def generate(self, i: int) -> dict:
        if not 0 <= i < self.size:
            raise IndexError(f"smmnist {self.split}: index {i} out of range for size {self.size}")
        rng = np.random.default_rng([self.seed, SPLIT_CODES[self.split], i])
        video = np.zeros((self.seq_len, CANVAS, CANVAS), np.float32)
        picks = rng.integers(0, len(self.images), size=self.num_digits)
        positions, velocities = [], []
        for k in picks:
            digit = self.images[k].astype(np.float32) / 255.0
            pos, vel = bounce_trajectory(rng, self.seq_len)
            for t, (y, x) in enumerate(pos):
                frame = video[t, y : y + DIGIT, x : x + DIGIT]
                np.maximum(frame, digit, out=frame)  # overlapping digits: brighter pixel wins
            positions.append(pos)
            velocities.append(vel)
        digits = self.digit_labels[picks].astype(np.int64)
        return {
            "x": torch.from_numpy(video).unsqueeze(1),  # (T, 64, 64) -> (T, 1, 64, 64)
            "digit": int(digits[0]),
            "digits": torch.from_numpy(digits),
            "positions": torch.from_numpy(np.stack(positions, axis=1)),  # (T, n, 2)
            "velocities": torch.from_numpy(np.stack(velocities, axis=1)),  # (T, n, 2)
        }

    __getitem__ = generate

    def __repr__(self) -> str:
        return f"StochasticMovingMNIST(split={self.split!r}, size={self.size}, seq_len={self.seq_len}, num_digits={self.num_digits})"


def load(
    split: str = "train",
    root: str | os.PathLike | None = None,
    cache: str | os.PathLike | None = None,
    *,
    seq_len: int = 15,
    num_digits: int = 1,
    size: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> StochasticMovingMNIST:
    """SM-MNIST split (train, val, train_full or test); `size` defaults to 54,000 / 6,000 / 60,000
    / 10,000 sequences."""
    if split not in SPLIT_CODES:
        raise DataError(f"smmnist: split must be one of {', '.join(SPLIT_CODES)}; got {split!r}")
    folder = build(root, cache)
    source = "test" if split == "test" else "train"
    with np.load(folder / "digits.npz") as f:
        images, labels = f[f"{source}_images"], f[f"{source}_labels"]
    if split == "train":
        images, labels = images[:-VAL_DIGITS], labels[:-VAL_DIGITS]
    elif split == "val":
        images, labels = images[-VAL_DIGITS:], labels[-VAL_DIGITS:]
    size = size if size is not None else DEFAULT_SIZES[split]
    return StochasticMovingMNIST(
        images,
        labels,
        split=split,
        size=int(size),
        seq_len=int(seq_len),
        num_digits=int(num_digits),
        seed=int(seed),
    )
