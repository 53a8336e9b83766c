"""Where a model named on the command line or in `RWAE.from_pretrained` lives: a name of a model
shipped inside the package ("default"), a folder written by `save_pretrained`, or a run folder."""

from __future__ import annotations

import os
from pathlib import Path

from rwae.data.paths import package_path
from rwae.errors import RWAEError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
SHIPPED_MODELS = ("default",)  # src/rwae/models/shipped/<name>/: config.json, model.safetensors


def shipped_model_dir(name: str) -> Path:
    """The package folder of a shipped model (config.json, model.safetensors, results.json)."""
    if name not in SHIPPED_MODELS:
        raise RWAEError(f"no shipped model named {name!r}; shipped: {', '.join(SHIPPED_MODELS)}")
    return package_path("models", "shipped", name)


def is_shipped_name(model: str | os.PathLike) -> bool:
    """True for "default" (a shipped model's name) unless a folder of that name is in the way."""
    return str(model) in SHIPPED_MODELS and not Path(model).exists()


def find_model_dir(path: str | os.PathLike) -> Path | None:
    """`path` itself or its model/ (a run folder), whichever holds config.json and the weights."""
    path = Path(path)
    for candidate in (path, path / "model"):
        if (candidate / CONFIG_NAME).is_file() and (candidate / WEIGHTS_NAME).is_file():
            return candidate
    return None


def resolve_model_dir(model: str | os.PathLike) -> Path:
    """The folder holding config.json and model.safetensors for a shipped name, a model folder or
    a run folder (its model/)."""
    if is_shipped_name(model):
        directory = shipped_model_dir(str(model))
        if not (directory / WEIGHTS_NAME).is_file():
            raise RWAEError(
                f"the shipped model {str(model)!r} is missing from this install ({directory}); "
                "reinstall rwae or pass a model folder"
            )
        return directory
    path = Path(model)
    found = find_model_dir(path)
    if found is not None:
        return found
    raise RWAEError(
        f"{path}: no model here (expected {CONFIG_NAME} and {WEIGHTS_NAME}, or a run folder with "
        f"model/, or the name of a shipped model: {', '.join(SHIPPED_MODELS)})"
    )
