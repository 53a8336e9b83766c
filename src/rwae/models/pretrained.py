"""Model files: where a named model lives (a model shipped inside the package, a folder written by
`save_pretrained`, or a run folder), and writing / reading config.json + model.safetensors."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from rwae._version import __version__
from rwae.config import ConfigError, ModelConfig, from_dict
from rwae.errors import RWAEError
from rwae.files import as_user_file, fsync_file, fsync_folder, write_problem

Model = TypeVar("Model", bound=nn.Module)  # RWAE, which calls these functions

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1
# Models shipped inside the package: SHIPPED_ROOT/<name>/ holds config.json, model.safetensors and
# results.json (how it was trained and what it scores).
SHIPPED_MODELS = ("default", "weak")
SHIPPED_ROOT = Path(__file__).parent / "shipped"
# Weight names before the model was split into its parts (issue #18) -> the part that holds them now.
PART_OF_OLD_NAME = {
    **dict.fromkeys(
        (
            "frame_encoder",
            "encoder_lstm",
            "static_head",
            "dynamic_frame_encoder",
            "dynamic_lstm",
            "dynamic_cell",
            "dynamic_head",
            "action_encoder",
            "action_head",
            "gumbel_temperature",
        ),
        "inference",
    ),
    **dict.fromkeys(
        ("prior_lstm", "prior_head", "decoder_lstm", "decoder_mlp", "frame_decoder"), "generative"
    ),
    "critic": "objective",
}


def shipped_model_dir(name: str) -> Path:
    """The package folder of a shipped model (config.json, model.safetensors, results.json)."""
    if name not in SHIPPED_MODELS:
        raise RWAEError(f"no shipped model named {name!r}; shipped: {', '.join(SHIPPED_MODELS)}")
    return SHIPPED_ROOT / name


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


def save(
    model: nn.Module,
    directory: str | os.PathLike,
    *,
    training_data: dict | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write config.json and model.safetensors into `directory`, each atomically."""
    from safetensors.torch import save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "format_version": FORMAT_VERSION,
        "rwae_version": __version__,
        "model": dataclasses.asdict(model.config),
    }
    if training_data is not None:
        config["training_data"] = training_data
    tmp_weights, tmp_config = directory / f".{WEIGHTS_NAME}.tmp", directory / f".{CONFIG_NAME}.tmp"
    try:
        save_model(model if dtype is None else copy.deepcopy(model).to(dtype), str(tmp_weights))
        tmp_config.write_text(json.dumps(config, indent=2) + "\n")
        for tmp, name in ((tmp_weights, WEIGHTS_NAME), (tmp_config, CONFIG_NAME)):
            fsync_file(tmp)
            as_user_file(tmp)
            os.replace(tmp, directory / name)
        fsync_folder(directory)
    except (OSError, RuntimeError) as e:  # safetensors reports a failed write as its own error
        for tmp in (tmp_weights, tmp_config):
            tmp.unlink(missing_ok=True)
        raise RWAEError(
            f"{directory}: could not write the model ({write_problem(e, directory / WEIGHTS_NAME)})"
        ) from e
    return directory


def read_config(directory: Path) -> tuple[ModelConfig, dict]:
    """The ModelConfig of a model folder and the whole config.json; a clear error if it is not one."""
    path = directory / CONFIG_NAME
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RWAEError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(meta, dict) or not isinstance(meta.get("model"), dict):
        raise RWAEError(f"{path}: not an rwae model config (expected an object with a 'model' key)")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise RWAEError(
            f"{directory}: format version {meta['format_version']} is newer than this rwae reads "
            f"({FORMAT_VERSION}); upgrade rwae"
        )
    try:
        return from_dict(ModelConfig, meta["model"], "model."), meta
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


# Buffers newer than some saved models, with the value an older model behaves as: the marginal of
# the action code (uniform, what generation drew before it was tracked)
ADDED_BUFFERS = {"generative.action_marginal": lambda shape: torch.full(shape, 1.0 / shape[0])}


def added_buffers(have, expected: dict[str, tuple]) -> dict[str, torch.Tensor]:
    """The ADDED_BUFFERS that today's model (weight name -> shape: `expected`) has and a saved
    state (its names: `have`) lacks, at the values an older model behaves as."""
    return {
        k: ADDED_BUFFERS[k](expected[k]) for k in ADDED_BUFFERS if k in expected and k not in have
    }


def current_name(name: str) -> str:
    """A weight's name in today's model, given its name in this or an older file."""
    head = name.split(".", 1)[0]
    return f"{PART_OF_OLD_NAME[head]}.{name}" if head in PART_OF_OLD_NAME else name


def load(cls: type[Model], directory: str | os.PathLike, map_location: str | torch.device) -> Model:
    """Rebuild a model from `save` output, a run folder or a shipped name. The weights' shapes are
    checked against config.json on the meta device first, so a config asking for a huge model is
    refused before any memory is allocated."""
    from safetensors import SafetensorError, safe_open

    if is_shipped_name(directory):
        directory = resolve_model_dir(directory)
    else:  # a model folder or a run folder; otherwise the checks below name the missing file
        directory = find_model_dir(directory) or Path(directory)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (directory / name).is_file():
            raise RWAEError(
                f"{directory / name}: not found; expected a folder written by save_pretrained"
            )
    config, _ = read_config(directory)
    weights_path = directory / WEIGHTS_NAME
    with torch.device("meta"):
        model = cls(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    try:
        with safe_open(str(weights_path), framework="pt") as f:
            found = {current_name(k): tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
            added = added_buffers(found, expected)
            if {**found, **{k: expected[k] for k in added}} != expected:
                raise RWAEError(f"{weights_path}: {_mismatch(found, expected)}")
            state = {current_name(k): f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            state.update(added)
    except (SafetensorError, OSError, ValueError) as e:
        raise RWAEError(f"{weights_path}: not a readable safetensors file ({e})") from e
    model = model.to_empty(device=map_location)
    model.load_state_dict(state, strict=True)
    return model.eval()


def _mismatch(found: dict[str, tuple], expected: dict[str, tuple]) -> str:
    missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or extra:
        return (
            f"does not match its config.json (missing: {', '.join(missing[:3]) or 'none'}; "
            f"unexpected: {', '.join(extra[:3]) or 'none'})"
        )
    name = next(k for k in expected if found[k] != expected[k])
    return (
        f"holds {name} of shape {list(found[name])}, but its config.json asks for "
        f"{list(expected[name])}"
    )
