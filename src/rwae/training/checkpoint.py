"""Training state on disk: torch.save of plain containers, written atomically, read with weights_only=True."""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path

import torch

from rwae.errors import RWAEError
from rwae.files import fsync_folder, write_problem


def rng_state() -> dict:
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
    }  # numpy's global RNG is not used in training (its legacy state would not load weights_only)
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_tuple(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(x):
    return tuple(_as_tuple(v) for v in x) if isinstance(x, list | tuple) else x


def save_atomic(obj: dict, path: Path) -> None:
    """torch.save to a temporary file beside `path`, flushed to disk, then renamed over `path` (and
    the folder flushed): a crash never leaves half a file, and a full disk leaves the last good
    checkpoint as it was, with a message naming the path and the free space."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_folder(path.parent)
    except (OSError, RuntimeError) as e:  # torch reports a failed write as RuntimeError
        tmp.unlink(missing_ok=True)
        raise RWAEError(f"{path}: could not write the checkpoint ({write_problem(e, path)})") from e


def remove_orphans(folder: Path) -> None:
    """Delete temporary files a killed writer left behind (call only while holding the run lock)."""
    for tmp in folder.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def load(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint; files that carry pickled objects (not plain tensors/containers) are refused."""
    if not path.is_file():
        raise RWAEError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise RWAEError(
            f"{path}: refused: the file carries pickled objects, not plain training state ({str(e).splitlines()[0]})"
        ) from e
    except (RuntimeError, EOFError) as e:
        raise RWAEError(f"{path}: not a readable checkpoint ({e})") from e


def prune(folder: Path, keep: int) -> None:
    """Keep the newest `keep` step_*.pt files (last.pt is always kept)."""
    steps = sorted(folder.glob("step_*.pt"))
    for old in steps[: max(0, len(steps) - keep)]:
        old.unlink(missing_ok=True)
