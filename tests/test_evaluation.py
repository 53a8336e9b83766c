"""The evaluation protocol end to end on tiny, briefly trained models with the shipped judges."""

import json

import pytest
import torch

from rwae.cli import main
from rwae.errors import RWAEError
from rwae.evaluation import load_judge
from rwae.evaluation.report import run_evaluation
from rwae.training import train
from rwae.training.judge import score_judge
from tests.helpers import tiny_experiment

SPRITES_KEYS = {
    "action_acc",
    "inception_score",
    "h_y_given_x",
    "h_y",
    "attribute_acc",
    "attribute_acc.body",
    "attribute_acc.bottom",
    "attribute_acc.top",
    "attribute_acc.hair",
    "swap_action_acc",
    "swap_attribute_acc",
    "gen_inception_score",
    "gen_h_y_given_x",
    "gen_h_y",
    "gen_action_consistency",
    "gen_attribute_confidence",
    "recon_mse",
}


@pytest.fixture(scope="module")
def sprites_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "sprites"
    train(tiny_experiment(**{"train.steps": 3, "model.num_actions": 9}), run, progress=False)
    return run


def test_shipped_sprites_judge_meets_its_bar():
    from rwae import data

    judge, results = load_judge("sprites")
    assert all(v >= 0.995 for k, v in results["test"].items() if k.startswith("accuracy."))
    test = data.load("sprites", "test")
    subset = torch.utils.data.Subset(test, list(range(0, 2664, 4)))  # 666 sequences, every 4th
    subset.batch = lambda idx: test.batch([4 * i for i in idx])
    scores = score_judge(judge, subset)
    assert set(scores) == {f"accuracy.{k}" for k in ("action", "body", "bottom", "top", "hair")}
    assert min(scores.values()) >= 0.99


def test_generation_consistency_tells_one_action_from_two():
    """Real sequences keep their action from one half to the other; splicing the first half of one
    sequence to the second half of another with a different action breaks it."""
    from rwae import data
    from rwae.evaluation.protocol import generation_scores

    judge, _ = load_judge("sprites")
    test = data.load("sprites", "test")
    items = [test[i] for i in range(0, 90, 5)]  # one character's actions and more
    x = torch.stack([it["x"] for it in items])
    action = torch.tensor([it["action"] for it in items])
    other = torch.roll(torch.arange(len(items)), 1)
    spliced = torch.cat([x[:, :4], x[other, 4:]], 1)
    scores = {}
    for name, video in (("real", x), ("spliced", spliced)):
        judged = judge.predict(video)
        judged.update({f"first_half.{k}": v for k, v in judge.predict(video[:, :4]).items()})
        judged.update({f"second_half.{k}": v for k, v in judge.predict(video[:, 4:]).items()})
        scores[name] = generation_scores(judged, judge, "action")
    differs = float((action != action[other]).float().mean())
    assert scores["real"]["gen_action_consistency"] == 1.0
    assert scores["spliced"]["gen_action_consistency"] <= 1.0 - differs + 1e-6
    assert differs > 0.5
    assert 0.9 <= scores["real"]["gen_attribute_confidence"] <= 1.0


def test_eval_writes_results_and_report(sprites_run, tmp_path):
    record = run_evaluation(sprites_run, repeats=2, limit=27, out=tmp_path / "eval")
    saved = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert set(saved) >= {"command", "config", "seed", "versions", "judge", "metrics"}
    assert SPRITES_KEYS | {"action_cluster_acc", "gen_by_action_acc"} <= set(saved["metrics"])
    assert all(set(v) == {"mean", "std"} for v in saved["metrics"].values())
    assert (
        saved["judge"]["name"] == "sprites"
        and saved["judge"]["test_accuracy"]["accuracy.action"] >= 0.995
    )
    assert saved["splits"] == {"trained_on": "train", "evaluated_on": "test"}
    for name, value in record["metrics"].items():  # the summary is the repeats' mean
        per_repeat = [rep[name] for rep in record["per_repeat"]]
        assert value["mean"] == pytest.approx(sum(per_repeat) / len(per_repeat)), name
    # three training steps cannot draw an appearance: resampled dynamics leave it near chance (1/6)
    assert record["metrics"]["attribute_acc"]["mean"] < 0.5
    report = (tmp_path / "eval" / "report.md").read_text()
    for picture in ("swap.png", "swap.gif", "samples.png", "samples.gif", "curves.png"):
        assert picture in report and (tmp_path / "eval" / picture).is_file()
    with pytest.raises(RWAEError, match="--overwrite"):
        run_evaluation(sprites_run, repeats=1, limit=9, out=tmp_path / "eval")


def test_eval_is_deterministic(sprites_run, tmp_path):
    a = run_evaluation(sprites_run, repeats=1, limit=18, seed=3, out=tmp_path / "a", pictures=False)
    b = run_evaluation(sprites_run, repeats=1, limit=18, seed=3, out=tmp_path / "b", pictures=False)
    c = run_evaluation(sprites_run, repeats=1, limit=18, seed=4, out=tmp_path / "c", pictures=False)
    assert a["metrics"] == b["metrics"]
    assert (
        a["metrics"]["action_acc"] != c["metrics"]["action_acc"]
        or a["metrics"]["gen_h_y"] != c["metrics"]["gen_h_y"]
    )


def test_recon_metrics_are_the_judge_on_the_reconstructions(sprites_run, tmp_path):
    from rwae import RWAE, data
    from rwae.evaluation.protocol import spread_indices

    record = run_evaluation(sprites_run, repeats=2, limit=27, out=tmp_path / "e", pictures=False)
    metrics = record["metrics"]
    model = RWAE.from_pretrained(sprites_run / "model").eval()
    judge, _ = load_judge("sprites")
    test = data.load("sprites", "test")
    items = [test[i] for i in spread_indices(len(test), 27)]
    with torch.no_grad():
        judged = judge.eval().predict(model.reconstruct(torch.stack([it["x"] for it in items])))
    accuracy = {
        k: float((judged[k].argmax(-1) == torch.tensor([it[k] for it in items])).float().mean())
        for k in ("action", "body", "bottom", "top", "hair")
    }
    assert metrics["recon_action_acc"]["mean"] == pytest.approx(accuracy["action"], abs=1e-6)
    for name in ("body", "bottom", "top", "hair"):
        assert metrics[f"recon_attribute_acc.{name}"]["mean"] == pytest.approx(
            accuracy[name], abs=1e-6
        )
    assert metrics["recon_attribute_acc"]["std"] == 0  # posterior means: the same every repeat


def test_audio_eval_has_eer_and_judge_metrics(tmp_path):
    run = tmp_path / "fsdd"
    train(
        tiny_experiment(**{"data.name": "fsdd", "model.frame_shape": "[64]", "train.steps": 2}),
        run,
        progress=False,
    )
    metrics = run_evaluation(run, repeats=1, limit=60, out=tmp_path / "eval")["metrics"]
    assert {
        "eer_static",
        "eer_dynamic",
        "eer_gap",
        "speaker_acc",
        "digit_acc",
        "swap_speaker_acc",
        "swap_digit_acc",
    } <= set(metrics)
    gap = metrics["eer_dynamic"]["mean"] - metrics["eer_static"]["mean"]
    assert metrics["eer_gap"]["mean"] == pytest.approx(gap, abs=1e-9)


def test_timit_eval_has_eer_without_a_judge(tmp_path):
    run = tmp_path / "timit"
    train(
        tiny_experiment(**{"data.name": "timit", "model.frame_shape": "[64]", "train.steps": 2}),
        run,
        progress=False,
    )
    record = run_evaluation(run, repeats=1, out=tmp_path / "eval", pictures=False)
    assert record["judge"] is None and {"eer_static", "eer_dynamic", "eer_gap", "recon_mse"} <= set(
        record["metrics"]
    )
    assert record["metrics"]["num_utterances"]["mean"] == 60  # 6 unseen speakers x 10 sentences


def test_smmnist_eval_has_digit_and_motion(tmp_path):
    run = tmp_path / "smmnist"
    sets = {
        "data.name": "smmnist",
        "data.options": "{seq_len: 6, size: 64}",
        "model.frame_shape": "[1, 64, 64]",
        "train.steps": 2,
    }
    train(tiny_experiment(**sets), run, progress=False)
    metrics = run_evaluation(run, repeats=1, limit=20, out=tmp_path / "eval", pictures=False)[
        "metrics"
    ]
    assert {"digit_acc", "motion_error", "swap_motion_error", "recon_mse"} <= set(metrics)


def test_swap_and_sample_commands(sprites_run, tmp_path):
    for out in ("swap.png", "swap.gif"):
        assert main(["swap", str(sprites_run), "--out", str(tmp_path / out), "--count", "3"]) == 0
        assert (tmp_path / out).stat().st_size > 0
    for out in ("samples.png", "samples.gif"):
        assert (
            main(
                ["sample", str(sprites_run / "model"), "--out", str(tmp_path / out), "--count", "3"]
            )
            == 0
        )
        assert (tmp_path / out).is_file()
    assert main(["eval", str(tmp_path / "nowhere")]) == 2
    out = tmp_path / "walking.png"
    assert main(["sample", str(sprites_run), "--action", "3", "--out", str(out)]) == 0
    assert out.is_file()
    assert main(["sample", str(sprites_run), "--action", "9", "--out", str(out)]) == 2


def test_eval_reads_the_split_asked_for(sprites_run, tmp_path):
    record = run_evaluation(
        sprites_run, split="val", repeats=1, limit=18, out=tmp_path / "v", pictures=False
    )
    assert record["splits"]["evaluated_on"] == "val" and record["evaluation"]["num_sequences"] == 18
