"""Every preset loads, rejects unknown keys, and trains a couple of steps with small overrides."""

import json
from dataclasses import asdict
from importlib.resources import files
from pathlib import Path

import pytest

from rwae.config import ConfigError, load_config
from rwae.training import train

PRESETS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
SMALL = [
    "train.steps=2",
    "train.batch_size=4",
    "train.sample_every=0",
    "train.checkpoint_every=0",
    "train.log_every=1",
]


def test_the_presets_the_docs_name_exist():
    names = {p.stem for p in PRESETS}
    assert names >= {
        "sprites_rwae_mmd",
        "sprites_rwae_gan",
        "sprites_rwae_weak",
        "sprites_dsvae",
        "sprites_cpu",
        "smmnist_rwae_mmd",
        "fsdd_rwae_mmd",
        "timit_rwae_mmd",
    }


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_preset_trains_with_small_overrides(preset, tmp_path):
    config = load_config(preset, SMALL)
    summary = train(config, tmp_path / "run", progress=False)
    assert (
        summary["steps"] == 2 and summary["final_losses"]["loss"] == summary["final_losses"]["loss"]
    )  # not NaN


def test_unknown_keys_and_bad_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  conv_widht: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown config key\(s\) model.conv_widht"):
        load_config(bad)
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="batch_size must be >= 2"):
        load_config(None, ["train.batch_size=1"])


def test_a_partial_section_keeps_its_fields_own_defaults(tmp_path):
    # the critics' Adam defaults to betas (0.5, 0.999); setting only its lr must not reset them to
    # the generator's (0.9, 0.999), from an override or from a file
    critic = load_config(None, ["train.critic_optimizer.lr=0.0001"]).train.critic_optimizer
    assert (critic.lr, critic.betas) == (0.0001, [0.5, 0.999])
    partial = tmp_path / "partial.yaml"
    partial.write_text("train:\n  critic_optimizer: {weight_decay: 0.1}\n  bf16: true\n")
    config = load_config(partial)
    assert (config.train.critic_optimizer.lr, config.train.critic_optimizer.betas) == (
        0.0005,
        [0.5, 0.999],
    )
    assert config.train.precision == "bf16"  # the older switch still reads into `precision`
    assert load_config(None, ["train.optimizer.lr=0.01"]).train.optimizer.betas == [0.9, 0.999]


@pytest.mark.parametrize(
    ("name", "preset"), [("default", "sprites_cpu"), ("weak", "sprites_rwae_weak")]
)
def test_shipped_models_come_from_their_presets(name, preset):
    """The built-in model's architecture and objective are its preset's, as resolved today."""
    shipped = files("rwae.models") / "shipped" / name / "config.json"
    config = load_config(Path(__file__).resolve().parents[1] / "configs" / f"{preset}.yaml")
    resolved = json.loads(json.dumps(asdict(config.model)))  # tuples as the file's lists
    assert json.loads(shipped.read_text())["model"] == resolved
