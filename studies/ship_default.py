"""Ship a trained Sprites model as the package's built-in default (`RWAE.from_pretrained("default")`,
`rwae swap|sample|eval` without a model).

    python studies/ship_default.py RUN_DIR [--repeats 3]

Copies RUN_DIR's model (config.json + model.safetensors) into src/rwae/models/shipped/default/,
evaluates the shipped copy with `rwae eval default` on the whole test split (R repeats) and on the
fixed subset the test suite re-scores (SUBSET sequences, R = 1, seed 0), writes results.json beside
the weights, and draws the README's swap and sample pictures (docs/images/default_*).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "src" / "rwae" / "models" / "shipped" / "default"
IMAGES = REPO / "docs" / "images"
SUBSET = 270  # spread-out test sequences re-scored by tests/test_shipped_model.py
MAX_MEGABYTES = 20


def rwae(*args: str) -> None:
    subprocess.run(["rwae", *args], check=True)


def ship(run_dir: Path, repeats: int, work: Path) -> Path:
    from rwae.models.pretrained import CONFIG_NAME, WEIGHTS_NAME, resolve_model_dir

    source = resolve_model_dir(run_dir)
    size_mb = (source / WEIGHTS_NAME).stat().st_size / 1e6
    if size_mb > MAX_MEGABYTES:
        raise SystemExit(f"{source / WEIGHTS_NAME}: {size_mb:.1f} MB, more than {MAX_MEGABYTES} MB")
    SHIPPED.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        shutil.copy2(source / name, SHIPPED / name)
    rwae("eval", "default", "--repeats", str(repeats), "--out", str(work / "full"), "--overwrite")
    rwae(
        "eval", "default", "--limit", str(SUBSET), "--repeats", "1", "--seed", "0",
        "--out", str(work / "subset"), "--overwrite", "--no-pictures",
    )  # fmt: skip
    full = json.loads((work / "full" / "results.json").read_text())
    subset = json.loads((work / "subset" / "results.json").read_text())
    summary = json.loads((run_dir / "train_summary.json").read_text())
    record = {
        "source_run": str(run_dir),
        "weights_megabytes": round(size_mb, 2),
        "training": {
            "steps": summary["steps"],
            "batch_size": summary["config"]["train"]["batch_size"],
            "cost_all_sessions": summary.get("cost_all_sessions"),
            "config": summary["config"],
        },
        "metrics": full["metrics"],
        "eval": {**full["evaluation"], "judge": full["judge"]},
        "subset": {
            "limit": SUBSET,
            "repeats": 1,
            "seed": 0,
            "metrics": {k: v["mean"] for k, v in subset["metrics"].items()},
        },
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "versions": full["versions"],
    }
    (SHIPPED / "results.json").write_text(json.dumps(record, indent=2) + "\n")
    IMAGES.mkdir(parents=True, exist_ok=True)
    rwae("swap", "--out", str(IMAGES / "default_swap.png"), "--count", "4")
    rwae("swap", "--out", str(IMAGES / "default_swap.gif"), "--count", "4")
    rwae("sample", "--out", str(IMAGES / "default_samples.png"), "--count", "6")
    rwae("sample", "--out", str(IMAGES / "default_samples.gif"), "--count", "8")
    return SHIPPED / "results.json"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="a run folder (model/ inside) or a model folder")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("runs/ship_default"))
    args = parser.parse_args()
    print(f"wrote {ship(args.run, args.repeats, args.work)}")


if __name__ == "__main__":
    main()
