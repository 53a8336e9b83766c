"""A trained model's codes for a whole dataset, and single sequences read from a user's files.

`encode_dataset` gives the posterior means of z^c (N, static_dim) and z^m (N, T, dynamic_dim) of
every sequence, with its name and labels (what speaker embeddings, retrieval or plots need);
`save_codes` writes them to one .npz. `read_sequence` reads one sequence from a GIF, a folder of
frames or a .npy and fits it to a model's frame shape.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from rwae.data.dataset import fetch
from rwae.data.user import read_frame_folder, read_gif
from rwae.errors import DataError
from rwae.files import as_user_file, fsync_file
from rwae.models import RWAE


@torch.inference_mode()
def encode_dataset(model: RWAE, dataset, batch_size: int = 64) -> dict[str, np.ndarray]:
    """{"static": (N, ds), "dynamic": (N, T, dm), ["action_logits": (N, A)], "name": (N,),
    "label.<k>": (N, ...)}: posterior means of every sequence, in dataset order."""
    model.eval()
    info = getattr(dataset, "info", None)
    expected = tuple(model.config.frame_shape)
    if info is not None and tuple(info.frame_shape) != expected:
        raise DataError(
            f"{info.name}: frames are {tuple(info.frame_shape)}, the model expects {expected}"
        )
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(dataset), batch_size):
        batch = fetch(dataset, list(range(start, min(start + batch_size, len(dataset)))))
        post = model.encode(batch.pop("x").to(model.device))
        parts.setdefault("static", []).append(post.static_mean.float().cpu().numpy())
        parts.setdefault("dynamic", []).append(post.dynamic_mean.float().cpu().numpy())
        if post.action_logits is not None:
            parts.setdefault("action_logits", []).append(post.action_logits.cpu().numpy())
        for k, v in batch.items():
            parts.setdefault(f"label.{k}", []).append(v.numpy())
    codes = {k: np.concatenate(v) for k, v in parts.items()}
    names = (info.extra.get("names") if info is not None else None) or None
    indices = getattr(dataset, "indices", np.arange(len(dataset)))
    codes["name"] = (
        np.asarray([names[i] for i in indices])
        if names
        else np.asarray([str(i) for i in range(len(dataset))])
    )
    return codes


def save_codes(path: str | os.PathLike, codes: dict[str, np.ndarray]) -> Path:
    """Write the codes to `path` (.npz) atomically: a killed run leaves no half-written file."""
    path = Path(path)
    if path.suffix != ".npz":
        raise DataError(f"{path}: codes are written as .npz; name the file *.npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **codes)
        fsync_file(Path(tmp))
        as_user_file(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_sequence(path: str | os.PathLike, frame_shape: list[int]) -> torch.Tensor:
    """One sequence (T, C, H, W) in [0, 1] from a .gif, a folder of frames or a .npy holding one
    sequence ((T, C, H, W) or (T, H, W, C), uint8 or floats in [0, 1]); frames of another size are
    resized to the model's, grey frames repeated to its channels. Anything else is a DataError."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    channels, side, _ = frame_shape
    if path.suffix == ".npy":
        x = np.load(path, allow_pickle=False)
        if x.ndim == 5 and x.shape[0] == 1:
            x = x[0]
        if x.ndim != 4:
            raise DataError(f"{path}: expected one sequence (T, C, H, W), got shape {x.shape}")
        if x.shape[1] not in (1, 3, 4) and x.shape[-1] in (1, 3, 4):
            x = x.transpose(0, 3, 1, 2)  # (T, H, W, C) -> (T, C, H, W)
        if x.dtype != np.uint8:
            if not np.issubdtype(x.dtype, np.floating) or x.min() < 0 or x.max() > 1:
                raise DataError(f"{path}: expected uint8 frames or floats in [0, 1]")
            x = (x * 255).round().astype(np.uint8)
        frames = x.transpose(0, 2, 3, 1)  # (T, C, H, W) -> (T, H, W, C)
    elif path.is_dir() or path.suffix.lower() == ".gif":
        frames = read_frame_folder(path) if path.is_dir() else read_gif(path)  # (T, H, W, C)
    else:
        raise DataError(f"{path}: expected a .gif, a folder of frames or a .npy of one sequence")
    if frames.shape[-1] == 4:
        frames = frames[..., :3]  # drop alpha
    if frames.shape[-1] == 1 and channels == 3:
        frames = np.repeat(frames, 3, -1)
    if frames.shape[-1] != channels:
        raise DataError(
            f"{path}: frames have {frames.shape[-1]} channels, the model expects {channels}"
        )
    if frames.shape[1:3] != (side, side):
        mode = "L" if channels == 1 else "RGB"
        frames = np.stack(
            [
                np.asarray(
                    Image.fromarray(f.squeeze(-1) if channels == 1 else f, mode).resize(
                        (side, side), Image.BILINEAR
                    )
                ).reshape(side, side, channels)
                for f in frames
            ]
        )
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().div_(255.0)
    return x.permute(0, 3, 1, 2)  # (T, H, W, C) -> (T, C, H, W)
