"""Datasets: `rwae.data.load(name_or_path, split, root=None, **options)` returns a torch Dataset
whose items are dicts with "x" ((T, C, H, W) images in [0, 1], or (T, D) features) and integer labels.

Built-in names: sprites (the default; built from art the package carries), smmnist, fsdd, timit.
Anything else is read as a path to user data (see rwae.data.user).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from torch.utils.data import Dataset

from rwae.data import fsdd, smmnist, sprites, timit, user
from rwae.data.dataset import DatasetInfo, SequenceDataset
from rwae.data.paths import cache_dir, data_root_candidates
from rwae.errors import DataError


def _sprites(split: str, root, cache, **options):
    del root  # the layers ship inside the package
    return sprites.load(split, cache, **options)


DATASETS: dict[str, Callable[..., Dataset]] = {
    "sprites": _sprites,
    "smmnist": smmnist.load,
    "fsdd": fsdd.load,
    "timit": timit.load,
}


def load(
    name: str | os.PathLike,
    split: str = "train",
    root: str | os.PathLike | None = None,
    *,
    cache: str | os.PathLike | None = None,
    **options,
) -> Dataset:
    """A split of a built-in dataset, or of user data at a path (split "all" is allowed there).

    root: the raw-data folder (else $RWAE_DATA_ROOT, else ../shared/data from the working directory).
    cache: where built datasets are kept (else $RWAE_CACHE, else ~/.cache/rwae).
    options: dataset options, e.g. seq_len=15, num_digits=2 (smmnist); seq_len, n_mels (audio).
    """
    if isinstance(name, str) and name in DATASETS:
        try:
            return DATASETS[name](split, root, cache, **options)
        except TypeError as e:
            raise DataError(f"{name}: bad option(s) {sorted(options)}: {e}") from e
    if isinstance(name, str) and os.sep not in name and not Path(name).exists():
        raise DataError(
            f"unknown dataset {name!r}: built-ins are {', '.join(DATASETS)}; anything else must be a path to user data"
        )
    try:
        return user.load(name, split, cache=cache, **options)
    except TypeError as e:
        raise DataError(f"{name}: bad option(s) {sorted(options)}: {e}") from e


def build(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    cache: str | os.PathLike | None = None,
    **options,
) -> Dataset:
    """Build (or find in the cache) a dataset and return its test split."""
    return load(name, "test", root, cache=cache, **options)


__all__ = [
    "DATASETS",
    "DatasetInfo",
    "SequenceDataset",
    "build",
    "cache_dir",
    "data_root_candidates",
    "load",
]
