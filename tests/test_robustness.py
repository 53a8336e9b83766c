"""A run that cannot be corrupted (issue #19): the run folder's lock, validated configs, safe
loading, clean errors — each case as a new user or a hostile one would meet it."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from rwae import RWAE, data
from rwae.cli import main
from rwae.config import ConfigError, load_config
from rwae.errors import DataError, RWAEError
from rwae.training import checkpoint as ckpt
from rwae.training import train, trainer_from_config
from rwae.training.trainer import resume_command
from tests.helpers import TINY_MODEL, tiny_experiment, tiny_model_config

TINY_SETS = [f"model.{k}={v}" for k, v in TINY_MODEL.items()] + [
    "train.batch_size=8",
    "train.sample_every=0",
]


def rwae_cli(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rwae", *args], stderr=subprocess.PIPE, text=True, **kwargs
    )


def wait_for_rows(run, rows: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        metrics = run / "metrics.csv"
        if metrics.is_file() and len(metrics.read_text().splitlines()) > rows:
            return
        time.sleep(0.2)
    raise AssertionError(f"{run}: no {rows} metric rows in {timeout} s")


# ---------------------------------------------------------------- 1. one writer per run folder
def test_a_second_writer_is_refused_and_kill_9_leaves_no_stale_lock(tmp_path):
    run = tmp_path / "run"
    sets = [*TINY_SETS, "train.steps=100000", "train.log_every=1", "train.checkpoint_every=2"]
    first = rwae_cli("train", "-q", "--out", str(run), "--set", *sets)
    try:
        wait_for_rows(run, 4)
        config_before = (run / "config.yaml").read_text()
        for extra in ([], ["--resume"]):  # a new run into the folder, or a resume of the live run
            second = rwae_cli(
                "train", "-q", "--out", str(run), *extra, "--set", *sets, "train.seed=1"
            )
            _, err = second.communicate(timeout=120)
            assert second.returncode == 2, err
            assert f"in use by another training process (pid {first.pid})" in err
            assert err.count("\n") == 1  # one line, no traceback
        assert (run / "config.yaml").read_text() == config_before
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    step = ckpt.load(run / "checkpoints" / "last.pt")["step"]
    assert (
        main(["train", "--out", str(run), "--resume", "-q", "--set", f"train.steps={step + 1}"])
        == 0
    )


# ---------------------------------------------------------------- 3. configs: valid or refused
BAD = {
    "model.beta_static": -1.0,
    "model.beta_dynamic": "-0.5",
    "train.optimizer.lr": -1e-3,
    "train.log_every": 0,
    "data.num_workers": -1,
    "train.keep_checkpoints": -1,
    "train.grad_clip": 0,
    "train.optimizer.betas": "[0.9]",
    "model.static_kl_warm_steps": -5,
    "train.steps": "[1",
}


@pytest.mark.parametrize("key", sorted(BAD))
def test_bad_values_are_one_line_errors_before_anything_is_written(key, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--set", *TINY_SETS, f"{key}={BAD[key]}"]) == 2
    err = capsys.readouterr().err
    assert key.split(".")[-1] in err and err.count("\n") == 1
    assert not out.exists()


def test_a_yaml_list_at_top_level_is_refused(tmp_path, capsys):
    (tmp_path / "list.yaml").write_text("- model\n- train\n")
    assert main(["train", "--config", str(tmp_path / "list.yaml")]) == 2
    assert "list.yaml: expected a mapping" in capsys.readouterr().err


def test_unparsable_option_values_are_refused(capsys):
    assert main(["data", "build", "smmnist", "-o", "seq_len=[1"]) == 2
    assert "option 'seq_len=[1'" in capsys.readouterr().err


KEYS = [
    "model.static_dim",
    "model.dynamic_dim",
    "model.beta_static",
    "model.beta_dynamic",
    "model.kernel",
    "model.recon_loss",
    "model.decoder",
    "model.dynamic_input",
    "model.static_penalty",
    "model.num_actions",
    "model.stochastic_encoder",
    "model.static_kl_warm_steps",
    "train.batch_size",
    "train.seed",
    "train.optimizer.lr",
    "train.grad_clip",
    "train.log_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.schedule",
    "train.warmup_steps",
    "data.num_workers",
    "data.train_split",
]
VALUES = [
    -1,
    0,
    1,
    2,
    3,
    0.5,
    -0.5,
    1e-3,
    "nan",
    "inf",
    "x",
    "frame",
    "kl",
    "residual",
    "null",
    "true",
    "[]",
    "{}",
]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3))
def test_fuzz_any_accepted_config_trains_one_step_and_any_other_is_refused(tmp_path_factory, sets):
    overrides = [*TINY_SETS, *(f"{k}={v}" for k, v in sets.items())]
    try:
        config = load_config(None, overrides)
    except ConfigError as e:
        assert str(e) and "\n" not in str(e)
        return
    config.train.steps = 1  # what is fuzzed is everything but the length of the run
    out = tmp_path_factory.mktemp("fuzz") / "run"
    try:
        summary = train(config, out, progress=False)
    except RWAEError as e:  # a clear error is allowed; a traceback of another kind is not
        assert "\n" not in str(e)
        return
    assert summary["steps"] == 1


# ---------------------------------------------------------------- 4. caches follow the files
def test_a_frame_edited_in_place_is_decoded_again(tmp_path):
    folder = tmp_path / "videos"
    for s in range(3):
        (folder / f"seq{s}").mkdir(parents=True)
        for t in range(4):
            Image.new("RGB", (8, 8), (10 * s, 20 * t, 0)).save(folder / f"seq{s}" / f"{t}.png")
    before = data.load(folder, "all")[1]["x"]
    times = os.stat(folder / "seq1")
    time.sleep(0.01)
    Image.new("RGB", (8, 8), (255, 255, 255)).save(folder / "seq1" / "2.png")
    os.utime(
        folder / "seq1", ns=(times.st_atime_ns, times.st_mtime_ns)
    )  # the folder looks unchanged
    after = data.load(folder, "all")[1]["x"]
    assert not torch.equal(before, after) and float(after[2].min()) == 1.0


# ---------------------------------------------------------------- 5. a config.json that asks for too much
def test_a_config_asking_for_a_huge_model_is_refused_before_allocating(tmp_path):
    RWAE(tiny_model_config()).save_pretrained(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["model"]["hidden_dim"] = 6000
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    probe = (
        "from rwae import RWAE\n"
        "try:\n"
        f"    RWAE.from_pretrained({str(tmp_path / 'm')!r})\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
        # this process's own peak (ru_maxrss would carry the parent's peak over the exec)
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(int(hwm.split()[1]) // 1024)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    message, peak_mb = result.stdout.strip().rsplit("\n", 1)
    assert message.startswith("RWAEError") and "its config.json asks for" in message
    assert int(peak_mb) < 1000  # a paper-sized LSTM of width 6000 alone would take gigabytes


# ---------------------------------------------------------------- 6. a full disk
def test_a_full_disk_keeps_the_last_checkpoint_and_names_the_path(tmp_path, monkeypatch):
    config = tiny_experiment(**{"train.steps": 4, "train.checkpoint_every": 1})
    trainer = trainer_from_config(config, tmp_path / "run", progress=False)
    real_save, calls = torch.save, {"n": 0}

    def save_then_fill_the_disk(obj, f):
        calls["n"] += 1
        if calls["n"] >= 3:  # step 2's checkpoint: half written, then the disk is full
            f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(obj, f)

    monkeypatch.setattr(ckpt.torch, "save", save_then_fill_the_disk)
    with pytest.raises(
        RWAEError, match=r"last.pt: could not write the checkpoint \(the disk is full"
    ):
        trainer.fit()
    monkeypatch.undo()
    folder = tmp_path / "run" / "checkpoints"
    assert ckpt.load(folder / "last.pt")["step"] == 1
    assert not list(folder.glob(".*.tmp"))


# ---------------------------------------------------------------- 7. metrics after a resume
def test_a_resume_off_the_logging_grid_logs_the_same_rows(tmp_path):
    config = tiny_experiment(**{"train.steps": 8, "train.log_every": 4})
    train(config, tmp_path / "straight", progress=False)
    trainer = trainer_from_config(config, tmp_path / "resumed", progress=False)
    original = trainer.train_step

    def stop_after_three(x):
        values = original(x)
        trainer.stop_requested = trainer.step + 1 == 3
        return values

    trainer.train_step = stop_after_three
    with pytest.raises(Exception, match="interrupted at step 3"):
        trainer.fit()
    train(config, tmp_path / "resumed", resume=True, progress=False)

    def rows(run):
        lines = (run / "metrics.csv").read_text().splitlines()
        header = lines[0].split(",")
        keep = [i for i, k in enumerate(header) if k != "seq_per_s"]
        return [[line.split(",")[i] for i in keep] for line in lines]

    assert rows(tmp_path / "straight") == rows(tmp_path / "resumed")


# ---------------------------------------------------------------- 8. the torchrun resume hint
def test_the_resume_hint_repeats_the_torchrun_launch(monkeypatch, tmp_path):
    assert resume_command(tmp_path) == f"rwae train --out {tmp_path} --resume"
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    hint = resume_command(tmp_path)
    assert hint.startswith("torchrun --nnodes=2 --nproc-per-node=2 (with the same rendezvous")
    assert hint.endswith(f"-m rwae train --out {tmp_path} --resume")


# ---------------------------------------------------------------- 9. smaller cases
def test_a_config_json_that_is_a_list_or_has_a_bad_field_is_named(tmp_path):
    RWAE(tiny_model_config()).save_pretrained(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    meta = json.loads(path.read_text())
    path.write_text("[1, 2]")
    with pytest.raises(RWAEError, match=r"config.json: not an rwae model config"):
        RWAE.from_pretrained(tmp_path / "m")
    meta["model"]["static_dim"] = -3
    path.write_text(json.dumps(meta))
    with pytest.raises(RWAEError, match=r"config.json: .*model.static_dim"):
        RWAE.from_pretrained(tmp_path / "m")


def test_saved_models_are_readable_like_other_files(tmp_path):
    old = os.umask(0o022)
    try:
        RWAE(tiny_model_config()).save_pretrained(tmp_path / "m")
    finally:
        os.umask(old)
    for name in ("model.safetensors", "config.json"):
        assert (tmp_path / "m" / name).stat().st_mode & 0o777 == 0o644


def test_corrupt_or_negative_labels_are_named(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 3, 5), np.float32))
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DataError, match=r"bad.npz: not a readable .npz file"):
        data.load(tmp_path / "x.npy", "all", labels=tmp_path / "bad.npz")
    np.savez(tmp_path / "neg.npz", digit=np.array([0, 1, -1, 2]))
    with pytest.raises(DataError, match=r"label 'digit' has negative values"):
        data.load(tmp_path / "x.npy", "all", labels=tmp_path / "neg.npz")


def test_orphaned_temporary_checkpoints_are_removed_on_start(tmp_path):
    config = tiny_experiment(**{"train.steps": 2})
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / ".step_0000005.pt.tmp").write_bytes(b"half")
    train(config, tmp_path / "run", progress=False)
    assert not list(folder.glob(".*.tmp"))


def test_two_cache_builds_finishing_at_once_both_succeed(tmp_path, monkeypatch):
    from rwae.data import paths

    final = tmp_path / "cache" / "built"
    real_replace = os.replace

    def the_other_process_wins(src, dst):
        final.mkdir(parents=True)  # renamed in by another process a moment earlier
        (final / "meta.json").write_text("{}")
        raise OSError(errno.ENOTEMPTY, "Directory not empty")

    monkeypatch.setattr(paths.os, "replace", the_other_process_wins)
    with paths.atomic_directory(final) as tmp:
        (tmp / "meta.json").write_text("{}")
    monkeypatch.setattr(paths.os, "replace", real_replace)
    assert (final / "meta.json").is_file() and not list(final.parent.glob(".built.tmp-*"))
