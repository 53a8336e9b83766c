"""Configuration dataclasses, YAML files and `--set key=value` overrides.

An experiment has three sections: `model` (what `config.json` of a saved model holds), `data` and
`train`. Unknown keys are errors that name the key; values are checked against the field types.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rwae.errors import RWAEError
from rwae.losses.mmd import WAE_SCALES

DYNAMIC_INPUTS = ("frames", "residual", "residual_mask")
PENALTIES = ("mmd", "gan", "kl")
# A git tag that still holds the structure-study levers retired from ModelConfig (docs/ablation.md).
RETIRED_TAG = "structure-study-levers"


class ConfigError(RWAEError, ValueError):
    """A config file, key or value is not valid."""


@dataclass
class ModelConfig:
    """The R-WAE architecture and objective (DESIGN.md §1). Defaults: the paper-sized Sprites model
    with the paper's Figure-1 structure; the last block holds the measured departures from it."""

    # --- the paper's model (Fig. 1; DESIGN.md §1.1-1.3)
    frame_shape: list[int] = field(default_factory=lambda: [3, 64, 64])  # [C, H, W] or [D]
    conv_width: int = 64  # channels of the first conv layer; doubled at each stride-2 layer
    frame_dim: int = 128  # per-frame feature e_t
    hidden_dim: int = 256  # LSTM width (encoder, prior, decoder) and the latent critic's width
    static_dim: int = 256
    dynamic_dim: int = 32
    stochastic_encoder: bool = (
        True  # Gaussian posteriors with reparameterised samples; False: means
    )
    recon_loss: str = "mse"  # mse (squared error summed per frame) | bce
    static_penalty: str = "mmd"  # D for z^c: mmd | gan | kl (kl on both = the DSVAE baseline)
    dynamic_penalty: str = "mmd"  # D for the pairs (z^m_{t-1}, z^m_t): mmd | gan | kl
    beta_static: float = 100.0
    beta_dynamic: float = 100.0
    kernel: str = "imq"  # MMD kernel: imq (the WAE paper's) | rbf
    # --- weak supervision (the paper's categorical action code a)
    num_actions: int | None = None  # the number of actions A, if known; None: no action code
    beta_action: float = 1.0
    action_recovery: float = 0.0  # λ_r of InfoGAN's recovery term: a drawn uniformly, z^m from the
    # prior given a, decoded; the cross-entropy of q(a | x̂) against a (0: off)
    action_head_input: str = "sample"  # what q(a | ·) reads in training: sample (z^m samples) |
    # mean (the posterior means it reads in evaluation)
    action_conditional_weight: float = 1.0  # the weight of H(q(a | x)) beside KL(q(a) || U) in the
    # code's penalty: 1 maximises I(x; a); below 1 an unused category costs more than a soft one
    action_head_learns: str = "all"  # all: a's Gumbel sample carries the decoder's and the prior's
    # gradients into q(a | ·) (the paper) | penalty: they read a detached; the head learns from its
    # penalty alone | head: as penalty, and the penalty does not move the encoder's z^m either
    action_penalty: str = "information"  # what trains q(a | ·): information (the paper's
    # KL(q̄(a) || U) + w · H(q(a | x))) | balanced: cross-entropy against Sinkhorn-balanced
    # assignments (SeLa / SwAV), read over the batch and the memory
    action_memory: int = 0  # the code's penalty also reads the last N training sequences' z^m
    # (detached, re-read by the current head): its marginal over a batch of 8 cannot spread over 9
    # categories (0: the batch alone)
    # --- departures from Figure 1, each measured in docs/ablation.md
    decoder: str = "lstm"  # lstm: LSTM over [z^c, z^m_t (, a)] (Fig. 1a) | frame: x_t from
    # (z^c, z^m_t) | translate (images): one canvas from z^c (, a), moved in each frame by a shift
    # read from z^m_t (z^m can say where, never what)
    dynamic_input: str = "frames"  # what the dynamic encoder sees: frames (Fig. 1b, shared with
    # z^c) | residual: x_t minus the sequence's mean frame, own encoder | residual_mask: where the
    # frame differs from that mean (images: shapes, no colours), own encoder
    static_kl_warm_beta: float = 0.0  # a per-sample KL price on z^c for the first
    static_kl_warm_steps: int = 0  # static_kl_warm_steps steps (sends the motion to z^m first)
    prior_fit: str = "penalty"  # what trains the dynamic prior's parameters ψ: penalty (the
    # dynamic D, Fig. 1) | likelihood: the teacher-forced likelihood of the posterior's codes, with
    # no gradient into the encoder (which keeps its D); the KL(aggregate posterior || prior) choice
    prior_pull: float = 0.0  # with prior_fit likelihood: the weight of DSVAE's per-step KL(q(z^m_t)
    # || p(z^m_t | z^m_<t)) in the encoder's loss, the prior's side detached, from step
    # prior_pull_start on: pulls z^m_t toward what the prior predicts (0: the encoder keeps its D)
    prior_pull_start: int = 0
    dynamic_start_components: int = 0  # 0: generation starts z^m from the learned prior's first
    # step (the paper) | K: z^m_1 from a K-component Gaussian mixture fitted to the training codes'
    # z^m_1 after training (`rwae fit-prior`), the learned prior from there on

    def __post_init__(self) -> None:
        if len(self.frame_shape) not in (1, 3):
            raise ConfigError(f"model.frame_shape must be [C, H, W] or [D], got {self.frame_shape}")
        if min(self.frame_shape) < 1:
            raise ConfigError(f"model.frame_shape must be positive sizes, got {self.frame_shape}")
        if len(self.frame_shape) == 3:
            _, h, w = self.frame_shape
            if h != w or h < 8 or h & (h - 1):
                raise ConfigError(
                    f"model.frame_shape: images must be square with a power-of-two side >= 8, got {h}x{w}"
                )
        _choice("model.static_penalty", self.static_penalty, PENALTIES)
        _choice("model.dynamic_penalty", self.dynamic_penalty, PENALTIES)
        _choice("model.kernel", self.kernel, ("imq", "rbf"))
        _choice("model.recon_loss", self.recon_loss, ("mse", "bce"))
        _choice("model.decoder", self.decoder, ("lstm", "frame", "translate"))
        _choice("model.dynamic_input", self.dynamic_input, DYNAMIC_INPUTS)
        _choice("model.prior_fit", self.prior_fit, ("penalty", "likelihood"))
        _choice("model.action_head_input", self.action_head_input, ("sample", "mean"))
        _choice("model.action_head_learns", self.action_head_learns, ("all", "penalty", "head"))
        _choice("model.action_penalty", self.action_penalty, ("information", "balanced"))
        if self.decoder == "translate" and len(self.frame_shape) != 3:
            raise ConfigError("model.decoder=translate needs image frames [C, H, W]")
        if self.dynamic_input == "residual_mask" and len(self.frame_shape) != 3:
            raise ConfigError("model.dynamic_input=residual_mask needs image frames [C, H, W]")
        for name in ("conv_width", "frame_dim", "hidden_dim", "static_dim", "dynamic_dim"):
            _at_least(f"model.{name}", getattr(self, name), 1)
        for name in (
            "beta_static",
            "beta_dynamic",
            "beta_action",
            "action_recovery",
            "action_conditional_weight",
            "static_kl_warm_beta",
        ):
            _at_least(f"model.{name}", getattr(self, name), 0)
        _at_least("model.static_kl_warm_steps", self.static_kl_warm_steps, 0)
        _at_least("model.action_memory", self.action_memory, 0)
        _at_least("model.dynamic_start_components", self.dynamic_start_components, 0)
        if self.dynamic_start_components and self.num_actions:
            raise ConfigError(
                "model.dynamic_start_components is for models without an action code "
                "(model.num_actions): with one, the prior's first step depends on the action; "
                "set model.dynamic_start_components=0"
            )
        if self.num_actions is not None:
            _at_least("model.num_actions", self.num_actions, 2)
        if self.action_recovery > 0 and not self.num_actions:
            raise ConfigError("model.action_recovery needs an action code (model.num_actions)")
        if self.action_memory and not self.num_actions:
            raise ConfigError("model.action_memory needs an action code (model.num_actions)")
        _at_least("model.prior_pull", self.prior_pull, 0)
        _at_least("model.prior_pull_start", self.prior_pull_start, 0)
        if self.prior_pull and self.prior_fit != "likelihood":
            raise ConfigError("model.prior_pull needs model.prior_fit: likelihood")
        if self.prior_fit == "likelihood" and self.dynamic_penalty == "kl":
            raise ConfigError(
                "model.prior_fit: likelihood is for the mmd and gan penalties (the kl penalty "
                "already fits the prior by likelihood); use prior_fit: penalty"
            )
        if not self.stochastic_encoder and "kl" in (self.static_penalty, self.dynamic_penalty):
            raise ConfigError(
                "model: the kl penalty needs a Gaussian encoder (model.stochastic_encoder: true)"
            )

    @property
    def is_image(self) -> bool:
        return len(self.frame_shape) == 3

    @property
    def uses_gan(self) -> bool:
        return "gan" in (self.static_penalty, self.dynamic_penalty)


# Retired ModelConfig keys (issue #18) and the values under which they did nothing: a saved model or
# config holding such a value loads; any other value names the tag that still has the code.
RETIRED_MODEL_KEYS: dict[str, Any] = {
    "norm": "batch",
    "static_input": "ordered",
    "pair_augment": "none",
    "center_dynamics": False,
    "kernel_scales": list(WAE_SCALES),
    "kernel_bandwidth": 1.0,
    "critic_hidden": None,  # any value: the critic is now hidden_dim wide
    "static_logvar_floor": None,
    "beta_static_kl": 0.0,
    "static_kl_free_nats": 0.0,
    "beta_independence": 0.0,
    "independence_estimator": None,  # any value (it only mattered with beta_independence > 0)
    "gumbel_temperature": 1.0,
    "gumbel_temperature_min": 0.5,
    "gumbel_anneal_rate": 1e-4,
    "static_prior_components": 0,  # issue #21: a fitted z^c mixture, measured not to help
    "action_split_below": 0.0,
    "action_code_start": 0,
}
# Where a retired option's results and code are, when not the structure study's
RETIRED_ELSEWHERE = {
    "static_prior_components": "docs/generation.md has its results; the parent of commit 6afa8d3 "
    "has its code",
    "action_split_below": "docs/weak.md has its results; commit 2d37a93 has its code",
    "action_code_start": "docs/weak.md has its results; commit 9b7ad3e has its code",
}


def drop_retired_keys(raw: dict, prefix: str = "model.") -> dict:
    """A model section without the retired keys that hold their neutral value; any other value of a
    retired key is a ConfigError naming it and the tag that still has its code."""
    if not isinstance(raw, dict):
        return raw
    kept = {}
    for key, value in raw.items():
        if key not in RETIRED_MODEL_KEYS:
            kept[key] = value
            continue
        neutral = RETIRED_MODEL_KEYS[key]
        if neutral is not None and value != neutral:
            where = RETIRED_ELSEWHERE.get(
                key, f"docs/ablation.md has its results; git tag {RETIRED_TAG} has its code"
            )
            raise ConfigError(f"{prefix}{key}={value!r}: this option was retired ({where})")
    return kept


@dataclass
class DataConfig:
    name: str = "sprites"  # a built-in dataset or a path to user data
    root: str | None = None  # raw-data folder (else $RWAE_DATA_ROOT, else ../shared/data)
    options: dict[str, Any] = field(default_factory=dict)  # passed to rwae.data.load
    train_split: str = "train"  # "train" holds out the validation data; "train_full" does not
    val_split: str | None = "val"  # the in-training quick check and every selection read it
    test_split: str = "test"  # read by final evaluations only
    num_workers: int = 0

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("data.name must name a dataset or a path, got ''")
        for name in ("train_split", "test_split"):
            if not getattr(self, name):
                raise ConfigError(f"data.{name} must name a split, got ''")
        _at_least("data.num_workers", self.num_workers, 0)


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
    precision: str = (
        "auto"  # auto: the faster of fp32 and bf16 autocast, measured at start-up | fp32 | bf16
    )
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
    judge_every: int = 0  # every N steps: the judge's quick check on the validation data; 0 = off
    judge_sequences: int = 270  # size of that subset (spread over data.val_split)
    judge: str | None = None  # a judge folder; default: the shipped judge of the dataset

    def __post_init__(self) -> None:
        if self.batch_size < 2:
            raise ConfigError(
                f"train.batch_size must be >= 2 (the MMD estimator needs pairs), got {self.batch_size}"
            )
        _at_least("train.steps", self.steps, 1)
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"train.seed must be in [0, 2**63), got {self.seed}")
        for name in ("optimizer", "critic_optimizer"):
            _check_optimizer(f"train.{name}", getattr(self, name))
        _choice("train.schedule", self.schedule, ("constant", "cosine", "linear"))
        _choice("train.device", self.device, ("auto", "cpu", "cuda"))
        _choice("train.precision", self.precision, ("auto", "fp32", "bf16"))
        if self.grad_clip is not None:
            _positive("train.grad_clip", self.grad_clip)
        for name in ("log_every", "judge_sequences"):
            _at_least(f"train.{name}", getattr(self, name), 1)
        for name in (
            "warmup_steps",
            "sample_every",
            "checkpoint_every",
            "keep_checkpoints",
            "judge_every",
        ):
            _at_least(f"train.{name}", getattr(self, name), 0)


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


def _at_least(name: str, value: float, low: float) -> None:
    if not (value >= low and math.isfinite(value)):  # also refuses NaN and infinity
        raise ConfigError(f"{name} must be a finite number >= {low}, got {value!r}")


def _positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")


def _check_optimizer(name: str, optimizer: OptimizerConfig) -> None:
    _positive(f"{name}.lr", optimizer.lr)
    if len(optimizer.betas) != 2 or not all(0 <= b < 1 for b in optimizer.betas):
        raise ConfigError(f"{name}.betas must be two numbers in [0, 1), got {optimizer.betas}")
    _at_least(f"{name}.weight_decay", optimizer.weight_decay, 0)


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


def precision_from_bf16(raw: dict, prefix: str = "train.") -> dict:
    """A train section with the switch `bf16: true|false` (before `precision`) as `precision`."""
    if "bf16" not in raw:
        return raw
    raw = dict(raw)
    bf16 = raw.pop("bf16")
    if not isinstance(bf16, bool):
        raise ConfigError(f"{prefix}bf16 must be true or false, got {bf16!r}")
    raw.setdefault("precision", "bf16" if bf16 else "fp32")
    return raw


# Sections whose older keys are read into today's before the keys are checked.
OLD_KEYS: dict[type, Any] = {ModelConfig: drop_retired_keys, TrainConfig: precision_from_bf16}


def from_dict(cls: type, raw: dict, prefix: str = ""):
    """Build dataclass `cls` from a dict; unknown keys and wrong types raise ConfigError."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping, got {raw!r}")
    if cls in OLD_KEYS:
        raw = OLD_KEYS[cls](raw, prefix)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(prefix + k for k in unknown)}; valid keys: {', '.join(sorted(fields))}"
        )
    kwargs = {
        k: _check_type(prefix + k, _onto_field_default(fields[k], v), hints[k])
        for k, v in raw.items()
    }
    return cls(**kwargs)


def _onto_field_default(spec: dataclasses.Field, value: Any) -> Any:
    """A partial section read on top of its field's own default where that differs from its class's
    defaults: `critic_optimizer: {lr: 1e-4}` keeps the critics' betas (0.5, 0.999), not Adam's."""
    if not isinstance(value, dict) or spec.default_factory is dataclasses.MISSING:
        return value
    default = spec.default_factory()
    if not dataclasses.is_dataclass(default) or default == type(default)():
        return value
    return {**dataclasses.asdict(default), **value}


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
        try:
            node[parts[-1]] = yaml.safe_load(value)
        except yaml.YAMLError as e:
            problem = str(e).splitlines()[0]
            raise ConfigError(
                f"override {item!r}: the value is not valid YAML ({problem})"
            ) from None
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
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: not valid YAML ({e})") from e
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{path}: expected a mapping with sections model, data, train; got a "
                f"{type(raw).__name__}"
            )
    raw = apply_overrides(raw, overrides or [])
    try:
        return ExperimentConfig.from_dict(raw)
    except ConfigError as e:
        raise ConfigError(f"{path or 'config'}: {e}") from None
