"""The models shipped in the package: each loads by name and its committed numbers reproduce."""

import json

import pytest

from rwae import RWAE
from rwae.evaluation.report import run_evaluation
from rwae.models.pretrained import SHIPPED_MODELS, shipped_model_dir

# accuracies over 270 sequences move by 1/270 per sequence; allow a few for float differences
# between CPUs; the reconstruction error is a mean over 270 x 8 frames
TOLERANCE = {
    "action_acc": 0.02,
    "attribute_acc": 0.02,
    "recon_mse": 0.0005,
    "action_cluster_acc": 0.02,
    "gen_by_action_acc": 0.04,  # samples: bf16 vs fp32 generation may flip a few more
}


def committed(name: str) -> dict:
    return json.loads((shipped_model_dir(name) / "results.json").read_text())


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_a_shipped_model_loads_by_name(name):
    model = RWAE.from_pretrained(name)
    assert model.config.frame_shape == [3, 64, 64]
    assert committed(name)["weights_megabytes"] <= 20


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_a_shipped_models_committed_subset_metrics_reproduce(name, tmp_path):
    subset = committed(name)["subset"]
    record = run_evaluation(
        name,
        limit=subset["limit"],
        repeats=subset["repeats"],
        seed=subset["seed"],
        out=tmp_path / "eval",
        pictures=False,
    )
    for metric, tolerance in TOLERANCE.items():
        if metric not in subset["metrics"]:
            continue  # the action code's metrics: only a model with one has them
        measured = record["metrics"][metric]["mean"]
        assert measured == pytest.approx(subset["metrics"][metric], abs=tolerance), metric
