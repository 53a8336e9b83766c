import csv
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from rwae import RWAE
from rwae.cli import main
from rwae.errors import RWAEError
from rwae.training import Trainer, TrainingDiverged, TrainingInterrupted, train, trainer_from_config
from rwae.training import checkpoint as ckpt
from tests.helpers import TINY_MODEL, tiny_experiment


def read_metrics(run):
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_short_training_on_sprites_lowers_the_loss(tmp_path):
    config = tiny_experiment(
        **{
            "train.steps": 40,
            "train.log_every": 10,
            "train.sample_every": 40,
            "train.batch_size": 16,
        }
    )
    summary = train(config, tmp_path / "run", progress=False)
    rows = read_metrics(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == [10, 20, 30, 40]
    assert float(rows[-1]["recon"]) < 0.7 * float(rows[0]["recon"])
    assert summary["steps"] == 40 and (tmp_path / "run" / "samples" / "step_0000040.png").is_file()
    model = RWAE.from_pretrained(tmp_path / "run" / "model")
    assert model.config.conv_width == TINY_MODEL["conv_width"]


def _interrupt_after(trainer: Trainer, k: int) -> None:
    original = trainer.train_step

    def step(x):
        values = original(x)
        if trainer.step + 1 == k:
            trainer.stop_requested = True
        return values

    trainer.train_step = step


@pytest.mark.parametrize(
    "variant",
    [
        {"train.judge_every": 2, "train.judge_sequences": 18},
        {"model.static_penalty": "gan", "model.num_actions": 3},
    ],
)
def test_resume_is_bit_exact(tmp_path, variant):
    config = tiny_experiment(**{"train.steps": 6, **variant})
    train(config, tmp_path / "straight", progress=False)
    trainer = trainer_from_config(config, tmp_path / "resumed", progress=False)
    _interrupt_after(trainer, 3)
    with pytest.raises(TrainingInterrupted, match="step 3"):
        trainer.fit()
    trainer_from_config(config, tmp_path / "resumed", resume=True, progress=False).fit()
    a = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    def losses(run):
        return [{k: v for k, v in row.items() if k != "seq_per_s"} for row in read_metrics(run)]

    assert losses(tmp_path / "straight") == losses(tmp_path / "resumed")  # the same curve
    if "train.judge_every" in variant:  # the quick check ran, and did not disturb the training RNG
        with open(tmp_path / "resumed" / "judge.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert [r["step"] for r in rows] == ["2", "4", "6"] and {
            "action_acc",
            "attribute_acc",
            "recon_attribute_acc",
        } <= set(rows[0])
        with open(tmp_path / "straight" / "judge.csv", newline="") as f:
            straight = list(csv.DictReader(f))

        def scores(table):  # the CPU seconds beside them differ from run to run
            return [{k: v for k, v in r.items() if k != "train_cpu_seconds"} for r in table]

        assert scores(straight) == scores(rows) and float(rows[-1]["train_cpu_seconds"]) > 0


def test_a_csv_row_with_new_columns_widens_the_file_without_shifting_values(tmp_path):
    from rwae.training.metrics_log import append_csv_row

    path = tmp_path / "judge.csv"
    append_csv_row(path, {"step": 1, "b": 2})
    append_csv_row(path, {"step": 2, "a": 9, "b": 3})  # a newer version logs "a" too
    append_csv_row(path, {"step": 3, "b": 4})
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows == [
        {"step": "1", "b": "2", "a": ""},
        {"step": "2", "b": "3", "a": "9"},
        {"step": "3", "b": "4", "a": ""},
    ]


def test_the_training_cost_adds_up_over_sessions(tmp_path):
    config = tiny_experiment(**{"train.steps": 4})
    trainer = trainer_from_config(config, tmp_path / "run", progress=False)
    _interrupt_after(trainer, 2)
    with pytest.raises(TrainingInterrupted):
        trainer.fit()
    first = ckpt.load(tmp_path / "run" / "checkpoints" / "last.pt")["cost"]
    assert first["cpu_seconds"] > 0 and first["wall_seconds"] > 0
    summary = train(config, tmp_path / "run", resume=True, progress=False)
    total = summary["cost_all_sessions"]
    assert total["wall_seconds"] > first["wall_seconds"]
    assert total["cpu_seconds"] > first["cpu_seconds"]


def test_existing_run_needs_resume(tmp_path):
    config = tiny_experiment(**{"train.steps": 1})
    train(config, tmp_path / "run", progress=False)
    with pytest.raises(RWAEError, match="--resume"):
        train(config, tmp_path / "run", progress=False)


def test_resuming_a_finished_run_keeps_its_summary_and_weights(tmp_path):
    config = tiny_experiment(**{"train.steps": 3})
    first = train(config, tmp_path / "run", progress=False)
    weights = (tmp_path / "run" / "model" / "model.safetensors").read_bytes()
    again = train(config, tmp_path / "run", resume=True, progress=False)
    assert again.pop("nothing_to_train") is True and "nothing_to_train" not in first
    assert again == first and again["final_losses"]
    assert (tmp_path / "run" / "model" / "model.safetensors").read_bytes() == weights


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    config = tiny_experiment(**{"train.steps": 10, "train.checkpoint_every": 2})
    trainer = trainer_from_config(config, tmp_path / "run", progress=False)
    forward = trainer.model.forward
    calls = {"n": 0}

    def poisoned(x):
        out = forward(x)
        calls["n"] += 1
        if calls["n"] == 3:
            out.loss = out.loss * float("nan")
        return out

    trainer.model.forward = poisoned
    with pytest.raises(TrainingDiverged, match="non-finite loss at step 3"):
        trainer.fit()
    state = ckpt.load(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_checkpoint_with_pickled_object_is_refused(tmp_path):
    path = tmp_path / "last.pt"
    torch.save({"step": 1, "payload": object()}, path)
    with pytest.raises(RWAEError, match="refused"):
        ckpt.load(path)


def test_checkpoints_are_pruned_and_atomic(tmp_path):
    config = tiny_experiment(
        **{"train.steps": 6, "train.checkpoint_every": 1, "train.keep_checkpoints": 2}
    )
    train(config, tmp_path / "run", progress=False)
    files = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert files == ["last.pt", "step_0000005.pt", "step_0000006.pt"]


def test_cli_train_and_sigterm_then_resume(tmp_path):
    run = tmp_path / "run"
    sets = [f"model.{k}={v}" for k, v in TINY_MODEL.items()] + [
        "train.batch_size=8",
        "train.steps=100000",
        "train.log_every=1",
        "train.sample_every=0",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rwae", "train", "--out", str(run), "-q", "--set", *sets],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        (run / "metrics.csv").is_file() and len(read_metrics(run)) >= 2
    ):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and "--resume" in err
    step = ckpt.load(run / "checkpoints" / "last.pt")["step"]
    assert step >= 2
    assert (
        main(["train", "--out", str(run), "--resume", "-q", "--set", f"train.steps={step + 2}"])
        == 0
    )
    assert ckpt.load(run / "checkpoints" / "last.pt")["step"] == step + 2
    assert [int(r["step"]) for r in read_metrics(run)] == list(range(1, step + 3))


def test_cli_rejects_unknown_keys(capsys):
    assert main(["train", "--set", "model.colour=red"]) == 2
    assert "model.colour" in capsys.readouterr().err


def test_wrong_frame_shape_for_data_names_the_fix(tmp_path):
    config = tiny_experiment(**{"model.frame_shape": "[64]"})
    with pytest.raises(RWAEError, match=r"set --set model.frame_shape=\[3, 64, 64\]"):
        train(config, tmp_path / "run", progress=False)


def test_features_dataset_trains(tmp_path):
    config = tiny_experiment(**{"data.name": "fsdd", "model.frame_shape": "[64]", "train.steps": 3})
    assert train(config, tmp_path / "run", progress=False)["steps"] == 3


def test_tensorboard_is_optional(tmp_path):
    config = tiny_experiment(**{"train.tensorboard": "true", "train.steps": 1})
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(RWAEError, match=r"pip install 'rwae\[tensorboard\]'"):
            train(config, tmp_path / "run", progress=False)
    else:
        train(config, tmp_path / "run", progress=False)
        assert any((tmp_path / "run" / "tb").iterdir())


def test_compiled_training_matches_eager(tmp_path):
    sets = {"train.steps": 2, "train.log_every": 1, "train.batch_size": 8}
    train(tiny_experiment(**sets), tmp_path / "eager", progress=False)
    train(tiny_experiment(**sets, **{"train.compile": True}), tmp_path / "compiled", progress=False)
    eager, compiled = read_metrics(tmp_path / "eager"), read_metrics(tmp_path / "compiled")
    for a, b in zip(eager, compiled, strict=True):  # the same init; compiled random draws differ
        assert float(b["loss"]) == pytest.approx(float(a["loss"]), rel=1e-2)
    assert RWAE.from_pretrained(tmp_path / "compiled" / "model") is not None


def test_a_trainer_takes_a_model_and_datasets_built_in_python(tmp_path):
    import numpy as np
    import yaml

    from rwae.config import ModelConfig, TrainConfig
    from rwae.data import DatasetInfo, SequenceDataset

    rng = np.random.default_rng(0)
    info = DatasetInfo("noise", "features", 5, (6,))
    train_data = SequenceDataset(rng.random((24, 5, 6), np.float32), {}, info, layout="NTD")
    val_data = SequenceDataset(rng.random((6, 5, 6), np.float32), {}, info, layout="NTD")
    model = RWAE(
        ModelConfig(frame_shape=[6], frame_dim=8, hidden_dim=8, static_dim=4, dynamic_dim=2)
    )
    config = TrainConfig(steps=3, batch_size=8, log_every=1, sample_every=3, checkpoint_every=0)
    summary = Trainer(
        model, train_data, config, tmp_path / "run", val_data=val_data, progress=False
    ).fit()
    assert summary["steps"] == 3 and (tmp_path / "run" / "samples" / "step_0000003.png").is_file()
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert recorded["data"]["name"] == "noise" and recorded["model"]["frame_shape"] == [6]
    assert RWAE.from_pretrained(tmp_path / "run").config == model.config


def test_precision_auto_takes_the_faster_mode_and_caches_the_measurement(tmp_path):
    from rwae import precision

    calls = []

    def measure():
        calls.append(1)
        return {"fp32": 0.30, "bf16": 0.20}

    key = {"job": "test", "cpu": "x"}
    first = precision.choose(key, measure, tmp_path / "p.json")
    again = precision.choose(key, measure, tmp_path / "p.json")
    assert first["mode"] == again["mode"] == "bf16" and first["speedup_over_fp32"] == 1.5
    assert not first["cached"] and again["cached"] and len(calls) == 1
    slower = precision.choose({"job": "other"}, lambda: {"fp32": 0.1, "bf16": 0.4}, None)
    assert slower["mode"] == "fp32"


def test_the_modes_are_timed_in_turns_so_a_slowdown_midway_hits_both(monkeypatch):
    from rwae import precision

    clock, calls = [0.0], []

    def step(mode):  # bf16 is twice as fast; the machine gets 4x slower after the 4th call
        calls.append(mode)
        clock[0] += (1.0 if mode == "fp32" else 0.5) * (4 if len(calls) > 4 else 1)

    monkeypatch.setattr(precision.time, "perf_counter", lambda: clock[0])
    seconds = precision.seconds_per_mode(step, torch.device("cpu"))
    assert calls[:4] == ["fp32", "bf16", "fp32", "bf16"]
    assert seconds["bf16"] < seconds["fp32"] and seconds["fp32"] == 2 * seconds["bf16"]


def test_a_mode_the_machine_cannot_run_is_measured_as_such_and_never_chosen(tmp_path):
    from rwae import precision
    from rwae.errors import RWAEError

    def step(mode):  # as oneDNN's bf16 LSTM on a CPU without AVX-512
        if mode == "bf16":
            raise RuntimeError("could not create a primitive descriptor for the LSTM")

    seconds = precision.seconds_per_mode(step, torch.device("cpu"))
    assert seconds["bf16"] is None and seconds["fp32"] >= 0
    chosen = precision.choose({"job": "test"}, lambda: seconds, tmp_path / "p.json")
    again = precision.choose({"job": "test"}, lambda: seconds, tmp_path / "p.json")
    assert chosen["mode"] == again["mode"] == "fp32" and again["cached"]
    assert chosen["cannot_run"] == ["bf16"] and chosen["speedup_over_fp32"] == 1.0
    with pytest.raises(RWAEError, match=r"train.precision: bf16 cannot run on this machine"):
        precision.require_runs("bf16", step, "train.precision")


def test_a_run_records_its_precision_and_a_resume_keeps_it(tmp_path):
    config = tiny_experiment(**{"train.steps": 4, "train.precision": "auto"})
    trainer = trainer_from_config(config, tmp_path / "run", progress=False)
    _interrupt_after(trainer, 2)
    with pytest.raises(TrainingInterrupted):
        trainer.fit()
    chosen = ckpt.load(tmp_path / "run" / "checkpoints" / "last.pt")["precision"]
    assert chosen["mode"] in ("fp32", "bf16") and chosen["chosen_by"] == "auto"
    assert set(chosen["seconds_per_step"]) == {"fp32", "bf16"}
    summary = train(config, tmp_path / "run", resume=True, progress=False)
    assert summary["precision"] == chosen  # not measured again: the run continues as it ran


def test_the_old_bf16_switch_still_works():
    from rwae.config import load_config

    assert load_config(None, ["train.bf16=true"]).train.precision == "bf16"
    assert load_config(None, ["train.bf16=false"]).train.precision == "fp32"


def test_a_checkpoint_from_before_a_buffer_was_added_resumes_with_its_old_value(tmp_path):
    config = tiny_experiment(**{"train.steps": 4, "model.num_actions": 3})
    trainer = trainer_from_config(config, tmp_path / "run", progress=False)
    _interrupt_after(trainer, 2)
    with pytest.raises(TrainingInterrupted):
        trainer.fit()
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    state = ckpt.load(path)
    del state["model"]["generative.action_marginal"]  # as written before p(a) was tracked
    ckpt.save_atomic(state, path)
    resumed = trainer_from_config(config, tmp_path / "run", resume=True, progress=False)
    assert resumed.step == 2
    # uniform, what such a model drew from (then tracked on from there)
    assert torch.allclose(resumed.model.generative.action_marginal, torch.full((3,), 1 / 3))
    resumed.release()
