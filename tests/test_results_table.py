"""The README's Sprites results: rendered from the comparison's seed records, and its reading claims
only the gaps larger than the seed spread."""

import importlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "studies"), str(REPO / "benchmarks")]
compare = importlib.import_module("compare")
markdown = importlib.import_module("markdown")  # benchmarks/markdown.py: the generated blocks


def test_readme_table_is_rendered_from_three_seeds_per_model():
    for model in compare.MODELS:
        seeds = sorted(r["seed"] for r in compare.seed_records(model))
        assert seeds == list(compare.SEEDS), f"{model} has seeds {seeds}"
    readme = markdown.read_block(REPO / "README.md", "results-table")
    assert readme == compare.render_readme().strip()


def _stat(mean: float, std: float) -> dict:
    return {"mean": mean, "std": std, "draw_std": 0.0, "seeds": 3}


def test_reading_lists_only_gaps_beyond_the_sum_of_seed_stds():
    table = [  # (label, metrics, cost, eval, short name) as compare.rows() makes them
        ("mmd row", {"attribute_acc": _stat(0.97, 0.01)}, {}, {}, "R-WAE (MMD)"),
        ("gan row", {"attribute_acc": _stat(0.955, 0.01)}, {}, {}, "R-WAE (GAN)"),  # Δ 0.015 < 0.02
        ("dsvae row", {"attribute_acc": _stat(0.90, 0.01)}, {}, {}, "DSVAE"),
        ("older", {"attribute_acc": {"mean": 0.1, "std": 0.0}}, {}, {}, "older"),  # no spread
    ]
    (line,) = compare.separated(table, ("attribute_acc",))
    assert line.count(">") == 2
    assert "R-WAE (MMD) 0.970 ± 0.010 > DSVAE 0.900 ± 0.010" in line
    assert "R-WAE (GAN) 0.955 ± 0.010 > DSVAE 0.900 ± 0.010" in line
    assert "older" not in line
    assert "None is" in compare.reading(table[:2])
