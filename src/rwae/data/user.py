"""User data: arrays (.npy / .npz) or a folder of GIFs or of frame folders, with optional labels.

Accepted:
- `.npy`: (N, T, C, H, W) images (uint8, or float in [0, 1]) or (N, T, D) float features.
- `.npz`: the sequences under key "x" (or the only array), plus optional integer label arrays of length N.
- a folder of `.gif` files (one sequence each) or of sub-folders of frames (.png/.jpg/.jpeg/.bmp,
  sorted by name); every sequence must have the same frame count (or at least `seq_len` frames,
  then the first `seq_len` are used) and the same size. Folders are decoded once into the cache.
- labels (`labels=`): a `.npz` of integer arrays of length N, or a `.csv` with a header; a `name`
  column matches rows to GIF / folder names, otherwise rows follow the sorted sequence order.
Splits: "all", or deterministic "train" / "val" / "test" parts (`test_fraction`, `val_fraction`,
`split_seed`); "train_full" is train + val.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError
from tqdm.auto import tqdm

from rwae.data.dataset import DatasetInfo, SequenceDataset
from rwae.data.paths import atomic_directory, cache_dir, write_json
from rwae.errors import DataError

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def check_sequences(x: np.ndarray, source: str) -> tuple[str, DatasetInfo]:
    """Validate an array of sequences; returns its storage layout and a DatasetInfo."""
    if x.ndim == 5:
        _, t, c, h, w = x.shape
        if c not in (1, 2, 3, 4):
            hint = (
                " (it looks channels-last; transpose to (N, T, C, H, W))"
                if x.shape[-1] in (1, 3, 4)
                else ""
            )
            raise DataError(
                f"{source}: images must be (N, T, C, H, W) with C in 1..4, got shape {x.shape}{hint}"
            )
        kind, frame_shape = "image", (c, h, w)
    elif x.ndim == 3:
        _, t, d = x.shape
        kind, frame_shape = "features", (d,)
    else:
        raise DataError(
            f"{source}: expected shape (N, T, C, H, W) for images or (N, T, D) for features, got {x.shape}"
        )
    if min(x.shape) == 0:
        raise DataError(f"{source}: empty array of shape {x.shape}")
    if x.dtype == np.uint8:
        if kind == "features":
            raise DataError(
                f"{source}: uint8 arrays must be images (N, T, C, H, W); features must be float, got {x.shape}"
            )
    elif np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise DataError(f"{source}: contains NaN or infinite values")
        if kind == "image" and (x.min() < 0 or x.max() > 1):
            raise DataError(
                f"{source}: float images must lie in [0, 1], got values in [{x.min():.4g}, {x.max():.4g}]"
            )
    else:
        raise DataError(
            f"{source}: dtype {x.dtype} not supported; use uint8 images or float32/float64"
        )
    info = DatasetInfo(name=source, kind=kind, seq_len=t, frame_shape=frame_shape)
    return ("NTCHW" if kind == "image" else "NTD"), info


def _read_array_file(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    try:
        if path.suffix == ".npy":
            return np.load(path, mmap_mode="r", allow_pickle=False), {}
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable {path.suffix} file ({e})") from e
    if "x" in arrays:
        x = arrays.pop("x")
    elif len(arrays) == 1:
        x = arrays.popitem()[1]
    else:
        raise DataError(f"{path}: put the sequences under the key 'x'; found keys {sorted(arrays)}")
    return x, arrays


def read_gif(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.stack([np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)])
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path}: not a readable GIF ({e})") from e


def read_frame_folder(path: Path) -> np.ndarray:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
    if not files:
        raise DataError(f"{path}: no frames (expected {', '.join(FRAME_SUFFIXES)} files)")
    frames = []
    for f in files:
        try:
            with Image.open(f) as im:
                frames.append(np.asarray(im.convert("RGB")))
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{f}: not a readable image ({e})") from e
        if frames[-1].shape != frames[0].shape:
            raise DataError(
                f"{f}: frame size {frames[-1].shape[:2]} differs from {files[0]} {frames[0].shape[:2]}"
            )
    return np.stack(frames)


def _folder_items(folder: Path) -> list[Path]:
    gifs = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".gif")
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir())
    if gifs and subdirs:
        raise DataError(f"{folder}: mixes .gif files and frame folders; use one kind")
    if not gifs and not subdirs:
        raise DataError(f"{folder}: empty; expected .gif files or sub-folders of frames")
    return gifs or subdirs


def _file_stamps(item: Path) -> list:
    """Name, size and modification time of a GIF, or of every file of a frame folder: the cache key
    changes when any frame is edited in place (a folder's own time does not)."""
    files = sorted(item.iterdir()) if item.is_dir() else [item]
    return [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]


def _decode_folder(
    folder: Path, seq_len: int | None, cache: str | os.PathLike | None
) -> tuple[Path, list[str]]:
    """Decode a folder of sequences once into the cache: frames.npy (N, T, C, H, W) uint8."""
    items = _folder_items(folder)
    stamp = json.dumps([*map(_file_stamps, items), str(folder.resolve()), seq_len])
    final = cache_dir(cache) / "user" / hashlib.sha256(stamp.encode()).hexdigest()[:16]
    names = [p.stem if p.suffix else p.name for p in items]
    if (final / "meta.json").is_file():
        return final, names
    sequences = []
    for p in tqdm(items, desc=folder.name, unit="seq", disable=None):
        seq = read_gif(p) if p.is_file() else read_frame_folder(p)
        if sequences and seq.shape[1:] != sequences[0].shape[1:]:
            raise DataError(
                f"{p}: frames are {seq.shape[2]}x{seq.shape[1]}, expected {sequences[0].shape[2]}x{sequences[0].shape[1]} like {items[0]}"
            )
        sequences.append(seq)
    length = seq_len or min(len(s) for s in sequences)
    for p, seq in zip(items, sequences, strict=True):
        if len(seq) < length or (seq_len is None and len(seq) != length):
            raise DataError(
                f"{p}: {len(seq)} frames, expected {length}; pass seq_len=K to use the first K frames of each sequence"
            )
    x = np.stack([s[:length] for s in sequences]).transpose(
        0, 1, 4, 2, 3
    )  # (N, T, H, W, C) -> (N, T, C, H, W)
    with atomic_directory(final) as tmp:
        np.save(tmp / "frames.npy", np.ascontiguousarray(x))
        write_json(tmp / "meta.json", {"source": str(folder.resolve()), "names": names})
    return final, names


def read_labels(path: Path, n: int, names: list[str] | None) -> dict[str, np.ndarray]:
    """Integer label arrays of length n from a .npz or a .csv file."""
    if not path.is_file():
        raise DataError(f"{path}: labels file not found")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                labels = {k: f[k] for k in f.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise DataError(f"{path}: not a readable .npz file ({e})") from e
    elif path.suffix == ".csv":
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            raise DataError(f"{path}: no rows; expected a header and one row per sequence")
        if "name" in rows[0]:
            if names is None:
                raise DataError(f"{path}: a 'name' column only applies to folders of sequences")
            by_name = {r["name"]: r for r in rows}
            missing = [nm for nm in names if nm not in by_name]
            if missing:
                raise DataError(
                    f"{path}: no row for sequence(s) {missing[:5]}{' ...' if len(missing) > 5 else ''}"
                )
            rows = [by_name[nm] for nm in names]
        labels = {}
        for key in rows[0]:
            if key == "name":
                continue
            try:
                labels[key] = np.asarray([int(r[key]) for r in rows], np.int64)
            except (TypeError, ValueError) as e:
                raise DataError(f"{path}: column {key!r} must hold integers ({e})") from e
    else:
        raise DataError(f"{path}: labels must be a .npz or .csv file")
    return check_labels(labels, n, str(path))


def check_labels(labels: dict[str, np.ndarray], n: int, source: str) -> dict[str, np.ndarray]:
    for key, value in labels.items():
        if len(value) != n or not np.issubdtype(value.dtype, np.integer):
            raise DataError(
                f"{source}: label {key!r} has shape {value.shape} and dtype {value.dtype}; expected {n} integers (one per sequence)"
            )
        if key == "x":
            raise DataError(f"{source}: 'x' is reserved for the sequences")
        if len(value) and value.min() < 0:
            raise DataError(
                f"{source}: label {key!r} has negative values (min {value.min()}); expected class "
                "numbers 0, 1, 2, ..."
            )
    return {k: v.astype(np.int64) for k, v in labels.items()}


def load(
    path: str | os.PathLike,
    split: str = "all",
    *,
    labels: str | os.PathLike | None = None,
    seq_len: int | None = None,
    test_fraction: float = 0.1,
    val_fraction: float = 0.1,
    split_seed: int = 0,
    cache: str | os.PathLike | None = None,
) -> SequenceDataset:
    """Sequences from a user's array file or folder (see module docstring)."""
    path = Path(path).expanduser()
    names = None
    if path.is_dir():
        folder, names = _decode_folder(path, seq_len, cache)
        x, found = np.load(folder / "frames.npy", mmap_mode="r"), {}
    elif path.is_file() and path.suffix in (".npy", ".npz"):
        x, found = _read_array_file(path)
        if seq_len is not None:
            if x.shape[1] < seq_len:
                raise DataError(
                    f"{path}: sequences have {x.shape[1]} frames, fewer than seq_len={seq_len}"
                )
            x = x[:, :seq_len]
    elif path.exists():
        raise DataError(
            f"{path}: expected a .npy or .npz file, or a folder of GIFs / frame folders"
        )
    else:
        raise DataError(f"{path}: no such file or folder (and not a built-in dataset name)")
    layout, info = check_sequences(x, str(path))
    if names is not None:
        info.extra["names"] = names  # of every sequence (GIF or frame folder), in array order
    label_arrays = check_labels(found, len(x), str(path))
    if labels is not None:
        label_arrays.update(read_labels(Path(labels), len(x), names))
    info.label_classes = {k: int(v.max()) + 1 for k, v in label_arrays.items()}
    if split == "all":
        indices = np.arange(len(x))
    elif split in ("train", "val", "train_full", "test"):
        for name, fraction in (("test_fraction", test_fraction), ("val_fraction", val_fraction)):
            if not 0 < fraction < 1:
                raise DataError(f"{name} must be in (0, 1), got {fraction}")
        # one permutation: the first test_fraction is test, the next val_fraction (of the whole) val
        perm = np.random.default_rng(split_seed).permutation(len(x))
        n_test = max(1, round(test_fraction * len(x)))
        n_val = max(1, round(val_fraction * len(x)))
        parts = {
            "test": perm[:n_test],
            "val": perm[n_test : n_test + n_val],
            "train": perm[n_test + n_val :],
            "train_full": perm[n_test:],
        }
        indices = np.sort(parts[split])
        if not len(indices):
            raise DataError(f"{path}: {len(x)} sequences leave none for the {split} split")
    else:
        raise DataError(
            f"{path}: split must be 'all', 'train', 'val', 'train_full' or 'test', got {split!r}"
        )
    return SequenceDataset(x, label_arrays, info, layout=layout, indices=indices)
