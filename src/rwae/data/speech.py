"""Build, cache and load a speech dataset: recordings -> standardised log-mel sequences + labels."""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rwae.data.audio import FeatureConfig, log_mel, read_audio, segments, standardise
from rwae.data.dataset import DatasetInfo, SequenceDataset
from rwae.data.paths import atomic_directory, write_json
from rwae.errors import DataError

BUILD_VERSION = 1


@dataclass(frozen=True)
class Recording:
    path: Path
    split: str  # "train" or "test"
    labels: dict[str, int]


def cache_folder(base: Path, name: str, cfg: FeatureConfig) -> Path:
    key = hashlib.sha256(json.dumps(cfg.as_dict(), sort_keys=True).encode()).hexdigest()[:10]
    return base / f"{name}-v{BUILD_VERSION}-{key}"


def build(
    name: str,
    recordings: list[Recording],
    cfg: FeatureConfig,
    final: Path,
    *,
    progress: bool = True,
) -> Path:
    """Compute features of every recording (once) into `final`: features.npy (N, T, D) float32,
    labels.npz (one int array per label, plus "split": 0 train / 1 test), meta.json."""
    if (final / "meta.json").is_file():
        return final
    start = time.perf_counter()
    seqs: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    labels: dict[str, dict[str, list[int]]] = {"train": {}, "test": {}}
    skipped = []
    for rec in tqdm(recordings, desc=name, unit="file", disable=None if progress else True):
        try:
            signal, rate = read_audio(rec.path)
        except DataError as e:
            warnings.warn(f"skipping {rec.path}: {e}", stacklevel=2)
            skipped.append(str(rec.path))
            continue
        for k, seg in enumerate(segments(log_mel(signal, rate, cfg), cfg)):
            seqs[rec.split].append(seg)
            for key, value in {**rec.labels, "segment": k}.items():
                labels[rec.split].setdefault(key, []).append(value)
    if not seqs["train"] or not seqs["test"]:
        raise DataError(
            f"{name}: no usable recordings in the {'train' if not seqs['train'] else 'test'} split"
        )
    (train, test), stats = standardise(np.stack(seqs["train"]), np.stack(seqs["test"]))
    with atomic_directory(final) as tmp:
        np.save(tmp / "features.npy", np.concatenate([train, test]))
        merged = {
            k: np.asarray(labels["train"][k] + labels["test"][k], np.int64) for k in labels["train"]
        }
        merged["split"] = np.asarray([0] * len(train) + [1] * len(test), np.int64)
        np.savez(tmp / "labels.npz", **merged)
        write_json(
            tmp / "meta.json",
            {
                "dataset": name,
                "features": cfg.as_dict(),
                "standardisation": stats,
                "num_sequences": {"train": len(train), "test": len(test)},
                "skipped_files": skipped,
                "build_seconds": round(time.perf_counter() - start, 2),
            },
        )
    return final


SPLITS = ("train", "val", "train_full", "test")
VAL_FRACTION, VAL_SEED = 0.1, 0


def split_indices(
    split_codes: np.ndarray, utterances: np.ndarray, val_fraction: float = VAL_FRACTION
) -> dict[str, np.ndarray]:
    """Sequence indices of each split. "val" holds out `val_fraction` of the training utterances
    (chosen by a seed-0 permutation of their sorted ids), every segment of an utterance on one side;
    "train" is the rest of the training utterances, "train_full" all of them."""
    train_full = np.flatnonzero(split_codes == 0)
    ids = np.unique(utterances[train_full])
    held = np.random.RandomState(VAL_SEED).permutation(len(ids))[: round(val_fraction * len(ids))]
    is_val = np.isin(utterances[train_full], ids[held])
    return {
        "train": train_full[~is_val],
        "val": train_full[is_val],
        "train_full": train_full,
        "test": np.flatnonzero(split_codes == 1),
    }


def load(
    folder: Path, split: str, info: DatasetInfo, val_fraction: float = VAL_FRACTION
) -> SequenceDataset:
    features = np.load(folder / "features.npy", mmap_mode="r")
    with np.load(folder / "labels.npz") as f:
        labels = {k: f[k] for k in f.files}
    if split == "all":
        indices = np.arange(len(features))
    elif split in SPLITS:
        indices = split_indices(labels["split"], labels["utterance"], val_fraction)[split]
    else:
        raise DataError(
            f"{info.name}: split must be one of {', '.join(SPLITS)}, all; got {split!r}"
        )
    labels.pop("split")
    meta = json.loads((folder / "meta.json").read_text())
    info.extra.update(standardisation=meta["standardisation"], features=meta["features"])
    return SequenceDataset(features, labels, info, layout="NTD", indices=indices)
