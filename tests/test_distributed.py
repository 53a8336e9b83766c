"""DDP with 2 CPU processes under torchrun (gloo)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rwae import RWAE
from tests.helpers import TINY_MODEL

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent


def torchrun(*args: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_global_mmd_matches_single_process():
    result = torchrun(str(HERE / "distributed_worker.py"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_two_processes_match_one_process_on_the_same_global_batch(tmp_path):
    # Features (no batch norm), a deterministic encoder and zero penalty weights make the loss a plain
    # batch mean, so DDP's averaged gradient equals the single process's on the same global batch.
    sets = [f"model.{k}={v}" for k, v in TINY_MODEL.items()] + [
        "data.name=fsdd",
        "model.frame_shape=[64]",
        "model.stochastic_encoder=false",
        "model.beta_static=0",
        "model.beta_dynamic=0",
        "train.precision=fp32",
        "train.batch_size=16",
        "train.steps=5",
        "train.sample_every=0",
        "train.global_mmd=true",
    ]
    one = subprocess.run(
        [
            sys.executable,
            "-m",
            "rwae",
            "train",
            "-q",
            "--out",
            str(tmp_path / "one"),
            "--set",
            *sets,
        ],
        capture_output=True,
        text=True,
    )
    assert one.returncode == 0, one.stderr
    two = torchrun("-m", "rwae", "train", "-q", "--out", str(tmp_path / "two"), "--set", *sets)
    assert two.returncode == 0, two.stdout + two.stderr
    a = load_file(tmp_path / "one" / "model" / "model.safetensors")
    b = load_file(tmp_path / "two" / "model" / "model.safetensors")
    moved = sum(1 for k in a if k.startswith("inference.frame_encoder"))
    assert moved and a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=2e-5, rtol=1e-4), k
    torch.manual_seed(0)  # the trainer's initial weights (train.seed = 0)
    initial = RWAE(RWAE.from_pretrained(tmp_path / "one" / "model").config).state_dict()
    assert (
        max(float((a[k] - initial[k]).abs().max()) for k in a) > 1e-3
    )  # training moved the weights
    assert '"world_size": 2' in (tmp_path / "two" / "train_summary.json").read_text()


def test_trainer_takes_objects_and_parameters_without_gradient_under_torchrun(tmp_path):
    result = torchrun(str(HERE / "ddp_trainer_worker.py"), str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "parameters get no gradient" in result.stderr  # said once, by rank 0
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
