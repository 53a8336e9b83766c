"""Ship a trained Sprites model inside the package: the built-in default (`RWAE.from_pretrained(
"default")`, `rwae swap|sample|eval` without a model) or, with `--name weak`, the weakly supervised
model (`RWAE.from_pretrained("weak")`).

    python studies/ship_default.py RUN_DIR [--name default|weak] [--repeats 3] [--precision float16]
                                   [--dynamic-start-components K]

Writes RUN_DIR's model (config.json + model.safetensors, float16 weights by default) into
src/rwae/models/shipped/NAME/, scores the source model (float32) on the fixed subset, evaluates
the shipped copy with `rwae eval NAME` on the whole test split (R repeats) and on the
fixed subset the test suite re-scores (SUBSET sequences, R = 1, seed 0), writes results.json beside
the weights, and draws the swap and sample pictures (docs/images/NAME_*).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIPPED_ROOT = REPO / "src" / "rwae" / "models" / "shipped"
IMAGES = REPO / "docs" / "images"
SUBSET = 270  # spread-out test sequences re-scored by tests/test_shipped_model.py
MAX_MEGABYTES = 20


def rwae(*args: str) -> None:
    subprocess.run(["rwae", *args], check=True)


def training_cost(summary: dict) -> dict:
    """CPU and wall seconds of every session of the run; a run trained in one session before the
    trainer recorded CPU time gives its wall time and thread count (CPU-hours <= wall x threads)."""
    if summary.get("cost_all_sessions"):
        return summary["cost_all_sessions"]
    batch = summary["config"]["train"]["batch_size"]
    if summary["sequences_seen_this_session"] != summary["steps"] * batch:
        raise SystemExit("the run was resumed before the trainer recorded its cost: cost unknown")
    return {
        "wall_seconds": summary["seconds_this_session"],
        "threads": summary["machine"]["threads"],
        "cpu_seconds": None,
    }


def training_record(run_dir: Path) -> dict:
    """How the model trained: from the run's train_summary.json, or, for a shipped model's folder
    (re-shipped with a fitted start), the `training` block of its results.json."""
    if (run_dir / "train_summary.json").is_file():
        summary = json.loads((run_dir / "train_summary.json").read_text())
        return {
            "steps": summary["steps"],
            "batch_size": summary["config"]["train"]["batch_size"],
            "cost_all_sessions": training_cost(summary),
            "config": summary["config"],
        }
    if (run_dir / "results.json").is_file():
        shipped = json.loads((run_dir / "results.json").read_text())
        return {"source_run": shipped["source_run"], **shipped["training"]}
    raise SystemExit(
        f"{run_dir}: neither a run (train_summary.json) nor a shipped model (results.json)"
    )


def subset_metrics(model: str, out: Path) -> dict[str, float]:
    """`rwae eval` of `model` on the fixed subset (R = 1, seed 0): {metric: value}."""
    rwae(
        "eval", model, "--limit", str(SUBSET), "--repeats", "1", "--seed", "0",
        "--out", str(out), "--overwrite", "--no-pictures",
    )  # fmt: skip
    record = json.loads((out / "results.json").read_text())
    return {k: v["mean"] for k, v in record["metrics"].items()}


def ship(
    run_dir: Path,
    name: str,
    repeats: int,
    work: Path,
    precision: str,
    dynamic_start_components: int,
) -> Path:
    import torch

    from rwae import RWAE
    from rwae.models.pretrained import CONFIG_NAME, WEIGHTS_NAME, resolve_model_dir

    shipped = SHIPPED_ROOT / name
    source = resolve_model_dir(run_dir)
    if source.resolve() == shipped.resolve():
        raise SystemExit(f"{run_dir}: copy the shipped model elsewhere first (it is replaced)")
    training_data = json.loads((source / CONFIG_NAME).read_text()).get("training_data")
    model = RWAE.from_pretrained(source)
    training = training_record(run_dir)  # before `shipped` (perhaps the source) is replaced
    if dynamic_start_components:  # z^m_1's generation prior fitted to the training codes
        from rwae.dynamic_start import fit_dynamic_start
        from rwae.evaluation.report import load_eval_set

        split = training_data.get("train_split", "train")
        train = load_eval_set(source, None, None, split)[2]
        model = fit_dynamic_start(model.float(), train, dynamic_start_components)
    if shipped.exists():
        shutil.rmtree(shipped)  # the previous model, results and all
    model.save_pretrained(shipped, training_data=training_data, dtype=getattr(torch, precision))
    size_mb = (shipped / WEIGHTS_NAME).stat().st_size / 1e6
    if size_mb > MAX_MEGABYTES:
        raise SystemExit(
            f"{shipped / WEIGHTS_NAME}: {size_mb:.1f} MB, more than {MAX_MEGABYTES} MB"
        )
    source_subset = subset_metrics(str(source), work / "subset_source")
    rwae("eval", name, "--repeats", str(repeats), "--out", str(work / "full"), "--overwrite")
    shipped_subset = subset_metrics(name, work / "subset")
    full = json.loads((work / "full" / "results.json").read_text())
    record = {
        "source_run": str(run_dir),
        "weights_megabytes": round(size_mb, 2),
        "weights_dtype": precision,
        "dynamic_start_components": dynamic_start_components,
        "training": training,
        "metrics": full["metrics"],
        "eval": {**full["evaluation"], "judge": full["judge"]},
        "subset": {
            "limit": SUBSET,
            "repeats": 1,
            "seed": 0,
            "metrics": shipped_subset,
            "source_float32_metrics": source_subset,  # does the precision hold?
        },
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "versions": full["versions"],
    }
    (shipped / "results.json").write_text(json.dumps(record, indent=2) + "\n")
    IMAGES.mkdir(parents=True, exist_ok=True)
    rwae("swap", name, "--out", str(IMAGES / f"{name}_swap.png"), "--count", "4")
    rwae("swap", name, "--out", str(IMAGES / f"{name}_swap.gif"), "--count", "4")
    rwae("sample", name, "--out", str(IMAGES / f"{name}_samples.png"), "--count", "6")
    rwae("sample", name, "--out", str(IMAGES / f"{name}_samples.gif"), "--count", "8")
    if model.config.num_actions:
        draw_by_action(name)
    return shipped / "results.json"


def draw_by_action(name: str, per_category: int = 2, seed: int = 0) -> None:
    """A model with an action code: samples generated with each category in turn (rows of the
    .png; in the animated .gif three categories a row, `per_category` cells each)."""
    import torch

    from rwae import RWAE
    from rwae.evaluation.report import training_data
    from rwae.models.pretrained import resolve_model_dir
    from rwae.pictures.grid import draw_grid
    from rwae.pictures.model import save_samples

    model = RWAE.from_pretrained(name).eval()
    g = torch.Generator().manual_seed(seed)
    length = int(training_data(resolve_model_dir(name)).get("seq_len", 8))  # as `rwae sample`
    with torch.no_grad():
        samples = torch.cat(
            [
                model.generate(per_category, length, action=k, generator=g)
                for k in range(model.config.num_actions)
            ]
        )  # (A * per_category, T, C, H, W), category-major
    captions = [f"category {i // per_category}" for i in range(len(samples))]
    draw_grid(samples, captions).save(IMAGES / f"{name}_by_action.png")
    save_samples(samples, IMAGES / f"{name}_by_action.gif", columns=3 * per_category)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="a run folder (model/ inside) or a model folder")
    parser.add_argument("--name", choices=("default", "weak"), default="default")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("runs/ship_default"))
    parser.add_argument("--precision", choices=("float16", "float32"), default="float16")
    parser.add_argument(
        "--dynamic-start-components",
        type=int,
        default=0,
        help="K > 0: fit z^m_1's generation prior to the training codes (`rwae fit-prior`)",
    )
    args = parser.parse_args()
    path = ship(
        args.run, args.name, args.repeats, args.work, args.precision, args.dynamic_start_components
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
