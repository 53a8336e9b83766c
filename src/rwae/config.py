"""Configuration dataclasses, YAML files and `--set key=value` overrides.

An experiment has three sections: `model` (what `config.json` of a saved model holds), `data` and
`train`. Unknown keys are errors that name the key; values are checked against the field types.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rwae.errors import RWAEError

DYNAMIC_INPUTS = ("frames", "residual", "residual_gray", "residual_mask")
IMAGE_ONLY_DYNAMIC_INPUTS = ("residual_gray", "residual_mask")
PENALTIES = ("mmd", "gan", "kl")


class ConfigError(RWAEError, ValueError):
    """A config file, key or value is not valid."""


@dataclass
class ModelConfig:
    """The R-WAE architecture and objective (DESIGN.md §1). Defaults: the paper-sized Sprites model."""

    frame_shape: list[int] = field(
        default_factory=lambda: [3, 64, 64]
    )  # [C, H, W] images or [D] features
    conv_width: int = 64  # channels of the first conv layer; doubled at each stride-2 layer
    norm: str = "batch"  # conv normalisation: batch | group | none
    frame_dim: int = 128  # per-frame feature e_t
    hidden_dim: int = 256  # LSTM width (encoder, prior, decoder)
    static_dim: int = 256
    dynamic_dim: int = 32
    stochastic_encoder: bool = (
        True  # Gaussian posteriors with reparameterised samples; False: means only
    )
    static_input: str = "ordered"  # what the static path sees: ordered | shuffled | random_frame |
    # pooled (images: local 4x4-patch features averaged over positions and frames, no bi-LSTM)
    dynamic_input: str = (
        "frames"  # what the dynamic path sees: frames (shared with the static path)
    )
    # | residual: x_t minus the sequence's mean frame, own encoder (what moves, little of what stays)
    # | residual_gray: the same, averaged over color channels (images: pose without colors)
    # | residual_mask: where the frame differs from the mean (images: shapes only, no shades)
    pair_augment: str = "none"  # none | color: half the batch are color-changed copies of the other
    # half; each sequence is decoded from its own z^c and its partner's z^m (same motion, other colors)
    center_dynamics: bool = (
        False  # decode from z^m_t minus its mean over t: only what changes passes
    )
    decoder: str = "lstm"  # lstm: LSTM over [z^c, z^m_t (, a)] (paper Fig. 1a); frame: x_t from (z^c, z^m_t) only
    recon_loss: str = "mse"  # mse (squared error summed per frame) | bce
    static_penalty: str = "mmd"  # mmd | gan | kl
    dynamic_penalty: str = "mmd"
    beta_static: float = 100.0
    beta_dynamic: float = 100.0
    kernel: str = "imq"  # imq | rbf
    kernel_scales: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0])
    kernel_bandwidth: float = 1.0  # sigma in C = 2 * dim * sigma^2
    critic_hidden: int = 256  # latent discriminators (gan penalty)
    static_logvar_floor: float | None = None  # lower bound on the static encoder's log-variance
    beta_static_kl: float = (
        0.0  # an extra per-sample KL on z^c (a lever against a static code that swallows dynamics)
    )
    static_kl_free_nats: float = 0.0  # the KL on z^c counts only above this many nats per sequence
    # the KL price on z^c during the first static_kl_warm_steps (then beta_static_kl): a strong
    # early price sends the motion to z^m before z^c can take it
    static_kl_warm_beta: float = 0.0
    static_kl_warm_steps: int = 0
    beta_independence: float = 0.0  # weight of the z^c ⟂ z^m_1..T penalty
    independence_estimator: str = "halves"  # halves: MMD of joint vs product pairs from the batch's
    # two halves (DESIGN.md §1.4); hsic: unbiased HSIC, every pair of the batch in the product
    num_actions: int | None = (
        None  # weak supervision: categorical action code a with this many classes
    )
    beta_action: float = 1.0
    gumbel_temperature: float = 1.0  # start of the annealed Gumbel-softmax temperature
    gumbel_temperature_min: float = 0.5
    gumbel_anneal_rate: float = 1e-4  # tau = max(min, start * exp(-rate * step))

    def __post_init__(self) -> None:
        if len(self.frame_shape) not in (1, 3):
            raise ConfigError(f"model.frame_shape must be [C, H, W] or [D], got {self.frame_shape}")
        if len(self.frame_shape) == 3:
            _, h, w = self.frame_shape
            if h != w or h < 8 or h & (h - 1):
                raise ConfigError(
                    f"model.frame_shape: images must be square with a power-of-two side >= 8, got {h}x{w}"
                )
        for name in ("static_penalty", "dynamic_penalty"):
            if getattr(self, name) not in PENALTIES:
                raise ConfigError(
                    f"model.{name} must be one of {PENALTIES}, got {getattr(self, name)!r}"
                )
        _choice("model.kernel", self.kernel, ("imq", "rbf"))
        _choice("model.norm", self.norm, ("batch", "group", "none"))
        _choice(
            "model.static_input",
            self.static_input,
            ("ordered", "shuffled", "random_frame", "pooled"),
        )
        if self.static_input == "pooled" and len(self.frame_shape) != 3:
            raise ConfigError("model.static_input=pooled needs image frames [C, H, W]")
        _choice("model.dynamic_input", self.dynamic_input, DYNAMIC_INPUTS)
        if self.dynamic_input in IMAGE_ONLY_DYNAMIC_INPUTS and len(self.frame_shape) != 3:
            raise ConfigError(
                f"model.dynamic_input={self.dynamic_input} needs image frames [C, H, W]"
            )
        _choice("model.decoder", self.decoder, ("lstm", "frame"))
        _choice("model.pair_augment", self.pair_augment, ("none", "color"))
        if self.pair_augment == "color" and (
            len(self.frame_shape) != 3 or self.frame_shape[0] != 3
        ):
            raise ConfigError(
                f"model.pair_augment=color needs RGB frames [3, H, W], got frame_shape {self.frame_shape}"
            )
        _choice("model.independence_estimator", self.independence_estimator, ("halves", "hsic"))
        _choice("model.recon_loss", self.recon_loss, ("mse", "bce"))
        for name in (
            "conv_width",
            "frame_dim",
            "hidden_dim",
            "static_dim",
            "dynamic_dim",
            "critic_hidden",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be positive, got {getattr(self, name)}")
        for name in (
            "beta_static_kl",
            "static_kl_free_nats",
            "static_kl_warm_beta",
            "static_kl_warm_steps",
            "beta_independence",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"model.{name} must be >= 0, got {getattr(self, name)}")
        if self.num_actions is not None and self.num_actions < 2:
            raise ConfigError(f"model.num_actions must be >= 2 or null, got {self.num_actions}")
        if not self.kernel_scales or min(self.kernel_scales) <= 0:
            raise ConfigError(
                f"model.kernel_scales must be positive numbers, got {self.kernel_scales}"
            )

    @property
    def is_image(self) -> bool:
        return len(self.frame_shape) == 3

    @property
    def uses_gan(self) -> bool:
        return "gan" in (self.static_penalty, self.dynamic_penalty)


@dataclass
class DataConfig:
    name: str = "sprites"  # a built-in dataset or a path to user data
    root: str | None = None  # raw-data folder (else $RWAE_DATA_ROOT, else ../shared/data)
    options: dict[str, Any] = field(default_factory=dict)  # passed to rwae.data.load
    train_split: str = "train"
    test_split: str = "test"
    num_workers: int = 0


@dataclass
class OptimizerConfig:
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0


@dataclass
class TrainConfig:
    steps: int = 10_000
    batch_size: int = 64  # global batch, split over processes under torchrun
    seed: int = 0
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    critic_optimizer: OptimizerConfig = field(
        default_factory=lambda: OptimizerConfig(lr=5e-4, betas=[0.5, 0.999])
    )
    schedule: str = "constant"  # constant | cosine | linear (each after `warmup_steps`)
    warmup_steps: int = 0
    grad_clip: float | None = 10.0
    bf16: bool = False  # bf16 autocast: faster or slower depending on the CPU (README, benchmarks)
    channels_last: bool = True
    reuse_memory: bool = True  # keep freed memory for reuse (glibc, CPU): no page faults per step
    compile: bool = False  # torch.compile the training forward; not faster on our CPU (README)
    device: str = "auto"  # auto | cpu | cuda
    global_mmd: bool = (
        False  # under DDP: MMD over all ranks' codes (all_gather) instead of each rank's
    )
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    tensorboard: bool = False
    judge_every: int = (
        0  # every N steps: the judge's quick check on a fixed test subset (judge.csv); 0 = off
    )
    judge_sequences: int = 270  # size of that subset (spread over the test split)
    judge: str | None = None  # a judge folder; default: the shipped judge of the dataset

    def __post_init__(self) -> None:
        if self.batch_size < 2:
            raise ConfigError(
                f"train.batch_size must be >= 2 (the MMD estimator needs pairs), got {self.batch_size}"
            )
        if self.steps < 1:
            raise ConfigError(f"train.steps must be >= 1, got {self.steps}")
        _choice("train.schedule", self.schedule, ("constant", "cosine", "linear"))
        _choice("train.device", self.device, ("auto", "cpu", "cuda"))


@dataclass
class ExperimentConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> ExperimentConfig:
        return from_dict(cls, raw, "")

    def to_yaml(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def _choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {allowed}, got {value!r}")


def _check_type(path: str, value: Any, annotation: Any) -> Any:
    """Check (and lightly coerce: int -> float, tuple -> list) a value against a field annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(path, value, arg)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0])
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{path} must be a mapping, got {value!r}")
        return from_dict(annotation, value, path + ".")
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path} must be a list, got {value!r}")
        (item,) = typing.get_args(annotation)
        return [_check_type(f"{path}[{i}]", v, item) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path} must be a mapping, got {value!r}")
        return dict(value)
    if annotation is Any:
        return value
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is int and isinstance(value, bool):
        raise ConfigError(f"{path} must be an integer, got {value!r}")
    if not isinstance(value, annotation):
        raise ConfigError(f"{path} must be {annotation.__name__}, got {value!r}")
    return value


def from_dict(cls: type, raw: dict, prefix: str = ""):
    """Build dataclass `cls` from a dict; unknown keys and wrong types raise ConfigError."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(prefix + k for k in unknown)}; valid keys: {', '.join(sorted(fields))}"
        )
    kwargs = {k: _check_type(prefix + k, v, hints[k]) for k, v in raw.items()}
    return cls(**kwargs)


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ["train.steps=20", "model.kernel=rbf"] to a nested dict (values parsed as YAML)."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        node = raw
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part} is not a section")
        node[parts[-1]] = yaml.safe_load(value)
    return raw


def load_config(
    path: str | Path | None = None, overrides: list[str] | None = None
) -> ExperimentConfig:
    """An ExperimentConfig from a YAML file (or the defaults) plus overrides."""
    raw: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({e})") from e
    raw = apply_overrides(raw, overrides or [])
    try:
        return ExperimentConfig.from_dict(raw)
    except ConfigError as e:
        raise ConfigError(f"{path or 'config'}: {e}") from None
