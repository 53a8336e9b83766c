"""Sprites (Li & Mandt 2018) built from the LPC sheet layers the package carries.

1296 characters (body, bottom, top, hair: 6 values each) x 9 sequences (3 actions x 3 directions)
x 8 frames of 64x64 RGB. Geometry, labels and the train/test split follow ../shared/data/MANIFEST.md;
credits and licences of the art are in assets/sprites/CREDITS.md (CC-BY-SA 3.0 / GPL 3.0).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from rwae.data.dataset import DatasetInfo, SequenceDataset
from rwae.data.paths import atomic_directory, cache_dir, package_path, sha256_file, write_json
from rwae.errors import DataError

BUILD_VERSION = 1
NUM_CHARACTERS = 1296
NUM_TRAIN_CHARACTERS = 1000
NUM_VAL_CHARACTERS = 100  # held out of the 1000 training characters for selection (DESIGN.md §3)
SPLIT_SEED = 423
SEQ_LEN = 8
CELL = 64
ATTRIBUTES = ("body", "bottom", "top", "hair")
LAYER_FOLDERS = ("body", "bottomwear", "topwear", "hair")
ACTIONS = ("walk", "spellcard", "slash")
DIRECTIONS = ("front", "left", "right")
# Sheet row for each (action, direction) and sheet column for each frame t = 0..7 (MANIFEST table).
ROWS = {
    "walk": {"front": 10, "left": 9, "right": 11},
    "spellcard": {"front": 2, "left": 1, "right": 3},
    "slash": {"front": 14, "left": 13, "right": 15},
}
COLUMNS = {
    "walk": (8, 1, 2, 3, 4, 5, 6, 7),
    "spellcard": (0, 1, 2, 3, 4, 5, 4, 6),
    "slash": (0, 1, 2, 3, 4, 5, 4, 0),
}
ACTION_NAMES = tuple(f"{a}-{d}" for a in ACTIONS for d in DIRECTIONS)  # label 3*action + direction

INFO = DatasetInfo(
    name="sprites",
    kind="image",
    seq_len=SEQ_LEN,
    frame_shape=(3, CELL, CELL),
    label_classes={
        "action": 9,
        "body": 6,
        "bottom": 6,
        "top": 6,
        "hair": 6,
        "character": NUM_CHARACTERS,
    },
    static_labels=ATTRIBUTES,
    dynamic_labels=("action",),
    extra={"action_names": ACTION_NAMES},
)


def assets_dir() -> Path:
    return package_path("data", "assets", "sprites")


def character_attributes(s: int | np.ndarray) -> tuple:
    """Character number s in 0..1295 -> (body, bottom, top, hair), the MANIFEST numbering."""
    return s // 216, (s % 216) // 36, (s % 36) // 6, s % 6


def _layer_strip(path: Path) -> Image.Image:
    """The 72 cells a sequence set uses, cut from one sheet layer: an RGBA image of (72*64) x 64."""
    sheet = np.asarray(Image.open(path).convert("RGBA"))
    if sheet.shape != (21 * CELL, 13 * CELL, 4):
        raise DataError(
            f"{path}: expected an 832x1344 LPC sheet, got {sheet.shape[1]}x{sheet.shape[0]}"
        )
    cells = [
        sheet[CELL * ROWS[a][d] : CELL * (ROWS[a][d] + 1), CELL * c : CELL * (c + 1)]
        for a in ACTIONS
        for d in DIRECTIONS
        for c in COLUMNS[a]
    ]
    return Image.fromarray(np.ascontiguousarray(np.concatenate(cells, axis=0)))


def _verified_layers() -> dict[tuple[str, int], Image.Image]:
    root = assets_dir()
    sums = {}
    for line in (root / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split(maxsplit=1)
        sums[rel.removeprefix("./")] = digest
    names = [f"{folder}/{i}.png" for folder in LAYER_FOLDERS for i in range(6)] + ["shoes/1.png"]
    layers = {}
    for rel in names:
        path = root / rel
        if not path.is_file():
            raise DataError(
                f"{path}: bundled Sprites layer is missing (expected sha256 {sums[rel]}); reinstall rwae"
            )
        if sha256_file(path) != sums[rel]:
            raise DataError(
                f"{path}: bundled Sprites layer has the wrong sha256 (expected {sums[rel]}); reinstall rwae"
            )
        folder, stem = rel.split("/")
        layers[(folder, int(stem.removesuffix(".png")))] = _layer_strip(path)
    return layers


def render_character(layers: dict, s: int, base: Image.Image | None = None) -> np.ndarray:
    """All 9 sequences of character s as uint8 (9, 8, 64, 64, 3), composed over opaque black."""
    body, bottom, top, hair = character_attributes(s)
    if base is None:
        base = _compose_torso(layers, body, bottom, top)
    image = Image.alpha_composite(base, layers[("hair", hair)])
    image = Image.alpha_composite(image, layers[("shoes", 1)])
    rgb = np.asarray(image)[..., :3]  # (72*64, 64, 3)
    return rgb.reshape(9, SEQ_LEN, CELL, CELL, 3)


def _compose_torso(layers: dict, body: int, bottom: int, top: int) -> Image.Image:
    image = Image.new("RGBA", (CELL, 72 * CELL), (0, 0, 0, 255))
    for key in (("body", body), ("bottomwear", bottom), ("topwear", top)):
        image = Image.alpha_composite(image, layers[key])
    return image


def cache_path(cache: str | os.PathLike | None = None) -> Path:
    return cache_dir(cache) / f"sprites-v{BUILD_VERSION}"


def build(cache: str | os.PathLike | None = None, *, progress: bool = True) -> Path:
    """Render all 11664 sequences into the cache (once) and return its folder.

    frames.npy: uint8 (11664, 8, 64, 64, 3), sequence n = 9*s + 3*action + direction.
    """
    final = cache_path(cache)
    if (final / "meta.json").is_file():
        return final
    start = time.perf_counter()
    layers = _verified_layers()
    n = NUM_CHARACTERS * 9
    digest = hashlib.sha256()
    with atomic_directory(final) as tmp:
        frames = np.lib.format.open_memmap(
            tmp / "frames.npy", mode="w+", dtype=np.uint8, shape=(n, SEQ_LEN, CELL, CELL, 3)
        )
        torso, torso_key = None, None
        for s in tqdm(
            range(NUM_CHARACTERS), desc="sprites", unit="char", disable=None if progress else True
        ):
            key = character_attributes(s)[:3]
            if key != torso_key:  # consecutive characters share body/bottom/top: compose them once
                torso, torso_key = _compose_torso(layers, *key), key
            block = render_character(layers, s, torso)
            frames[9 * s : 9 * s + 9] = block
            digest.update(block.tobytes())
        frames.flush()
        del frames
        s_all = np.repeat(np.arange(NUM_CHARACTERS), 9)
        attrs = character_attributes(s_all)
        np.savez(
            tmp / "labels.npz",
            action=np.tile(np.arange(9), NUM_CHARACTERS),
            character=s_all,
            **{name: a for name, a in zip(ATTRIBUTES, attrs, strict=True)},
        )
        write_json(
            tmp / "meta.json",
            {
                "dataset": "sprites",
                "build_version": BUILD_VERSION,
                "shape": [n, SEQ_LEN, CELL, CELL, 3],
                "sha256_uint8_stream": digest.hexdigest(),
                "build_seconds": round(time.perf_counter() - start, 2),
                "licence": "LPC art: CC-BY-SA 3.0 or GPL 3.0; see CREDITS.md in rwae/data/assets/sprites",
            },
        )
    return final


def split_characters() -> dict[str, np.ndarray]:
    """The original split — numpy legacy seed 423 permutation, first 1000 characters train
    ("train_full"), the other 296 test — with the last 100 of those 1000 held out as "val"; "train"
    is the first 900."""
    perm = np.random.RandomState(SPLIT_SEED).permutation(NUM_CHARACTERS)
    n_train = NUM_TRAIN_CHARACTERS - NUM_VAL_CHARACTERS
    return {
        "train": perm[:n_train],
        "val": perm[n_train:NUM_TRAIN_CHARACTERS],
        "train_full": perm[:NUM_TRAIN_CHARACTERS],
        "test": perm[NUM_TRAIN_CHARACTERS:],
    }


def load(
    split: str = "train", cache: str | os.PathLike | None = None, progress: bool = True
) -> SequenceDataset:
    """Sprites split as a SequenceDataset, building it if needed: train (900 characters, 8100
    sequences), val (100, 900), train_full (train + val: 9000), test (296, 2664) or all."""
    folder = build(cache, progress=progress)
    meta = json.loads((folder / "meta.json").read_text())
    frames = np.load(folder / "frames.npy", mmap_mode="r")
    if list(frames.shape) != meta["shape"]:
        raise DataError(
            f"{folder / 'frames.npy'}: shape {frames.shape}, expected {meta['shape']}; delete {folder} to rebuild"
        )
    with np.load(folder / "labels.npz") as f:
        labels = {k: f[k] for k in f.files}
    if split == "all":
        indices = np.arange(len(frames))
    else:
        chars = split_characters().get(split)
        if chars is None:
            raise DataError(
                f"sprites: split must be one of {', '.join(split_characters())}, all; got {split!r}"
            )
        indices = (9 * chars[:, None] + np.arange(9)[None, :]).reshape(
            -1
        )  # character-major, 9 actions each
    return SequenceDataset(frames, labels, INFO, layout="NTHWC", indices=indices)
