"""The README's Sprites results: rendered from the comparison's seed records, and its reading claims
only the gaps larger than the seed spread."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "studies"))
compare = pytest.importorskip("compare")


def _block(text: str, name: str) -> str:
    return text.split(f"<!-- {name}:start -->")[1].split(f"<!-- {name}:end -->")[0].strip()


def test_readme_table_is_rendered_from_three_seeds_per_model():
    for model in compare.MODELS:
        seeds = sorted(r["seed"] for r in compare.seed_records(model))
        assert seeds == list(compare.SEEDS), f"{model} has seeds {seeds}"
    readme = (REPO / "README.md").read_text()
    assert _block(readme, "results-table") == compare.render_readme().strip()


def _stat(mean: float, std: float) -> dict:
    return {"mean": mean, "std": std, "draw_std": 0.0, "seeds": 3}


def test_reading_lists_only_gaps_beyond_the_sum_of_seed_stds():
    mmd, gan, dsvae = (compare.MODELS[name][0] for name in ("rwae_mmd", "rwae_gan", "dsvae"))
    table = [
        (f"{mmd} (3 seeds, `a`)", {"attribute_acc": _stat(0.97, 0.01)}, {}, {}),
        (f"{gan} (3 seeds, `b`)", {"attribute_acc": _stat(0.955, 0.01)}, {}, {}),  # Δ 0.015 < 0.02
        (f"{dsvae} (3 seeds, `c`)", {"attribute_acc": _stat(0.90, 0.01)}, {}, {}),
        ("older (one seed)", {"attribute_acc": {"mean": 0.1, "std": 0.0}}, {}, {}),  # no spread
    ]
    (line,) = compare.separated(table, ("attribute_acc",))
    assert line.count(">") == 2
    assert "R-WAE (MMD) 0.970 ± 0.010 > DSVAE 0.900 ± 0.010" in line
    assert "R-WAE (GAN) 0.955 ± 0.010 > DSVAE 0.900 ± 0.010" in line
    assert "older" not in line
    assert "None is" in compare.reading(table[:2])
