"""The built-in default model: it loads by name and its committed numbers reproduce."""

import json

import pytest

from rwae import RWAE
from rwae.evaluation.report import run_evaluation
from rwae.models.pretrained import shipped_model_dir

# accuracies over 270 sequences move by 1/270 per sequence; allow a few for float differences
# between CPUs; the reconstruction error is a mean over 270 x 8 frames
TOLERANCE = {"action_acc": 0.02, "attribute_acc": 0.02, "recon_mse": 0.0005}


@pytest.fixture(scope="module")
def shipped() -> dict:
    return json.loads((shipped_model_dir("default") / "results.json").read_text())


def test_the_default_model_loads_by_name(shipped):
    model = RWAE.from_pretrained("default")
    assert model.config.frame_shape == [3, 64, 64]
    assert shipped["weights_megabytes"] <= 20


def test_the_default_models_committed_subset_metrics_reproduce(shipped, tmp_path):
    subset = shipped["subset"]
    record = run_evaluation(
        "default",
        limit=subset["limit"],
        repeats=subset["repeats"],
        seed=subset["seed"],
        out=tmp_path / "eval",
        pictures=False,
    )
    for name, tolerance in TOLERANCE.items():
        measured = record["metrics"][name]["mean"]
        assert measured == pytest.approx(subset["metrics"][name], abs=tolerance), name
