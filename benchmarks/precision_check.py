"""Does the default (fast) training mode learn the same as plain fp32? A short fixed-seed run of each.

    python benchmarks/precision_check.py [--steps 400] [--runs runs/precision_check]

Trains configs/sprites_cpu.yaml twice with the same seed and data order, once with the default
train.* switches and once in plain fp32 eager (benchmarks/throughput.py's PLAIN_FP32), then evaluates
both on 540 spread-out test sequences (R = 2). Reports the loss over the last quarter of each run
(mean ± std of the logged values, so "within noise" has a yardstick), their difference, and both
evaluations. Writes benchmarks/results/precision_check.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

from throughput import PLAIN_FP32

from rwae.provenance import provenance

REPO = Path(__file__).resolve().parents[1]
METRICS = ("action_acc", "attribute_acc", "recon_mse", "swap_action_acc", "swap_attribute_acc")


def train_and_eval(out: Path, steps: int, sets: list[str]) -> dict:
    common = [f"train.steps={steps}", "train.log_every=10", "train.judge_every=0"]
    common += ["train.sample_every=0", "train.seed=0"]
    if not (out / "model" / "config.json").is_file():
        cmd = ["rwae", "train", "-q", "--config", str(REPO / "configs" / "sprites_cpu.yaml")]
        resume = ["--resume"] if (out / "checkpoints" / "last.pt").is_file() else []
        subprocess.run([*cmd, "--out", str(out), *resume, "--set", *common, *sets], check=True)
    eval_dir = out / "eval_check"
    cmd = ["rwae", "eval", str(out), "--limit", "540", "--repeats", "2", "--out", str(eval_dir)]
    subprocess.run([*cmd, "--overwrite", "--no-pictures"], check=True)
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    tail = [float(r["loss"]) for r in rows[-max(1, len(rows) // 4) :]]
    evaluation = json.loads((eval_dir / "results.json").read_text())["metrics"]
    return {
        "overrides": sets,
        "final_quarter_loss": {"mean": statistics.mean(tail), "std": statistics.stdev(tail)},
        "eval": {k: evaluation[k] for k in METRICS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--runs", default="runs/precision_check")
    parser.add_argument("--readme", default=None, help="also write the README block")
    args = parser.parse_args()
    runs = Path(args.runs)
    modes = {"default": [], "fp32": PLAIN_FP32}
    results = {mode: train_and_eval(runs / mode, args.steps, sets) for mode, sets in modes.items()}
    loss = {m: r["final_quarter_loss"] for m, r in results.items()}
    record = {
        "steps": args.steps,
        "config": "configs/sprites_cpu.yaml",
        "seed": 0,
        "modes": results,
        "loss_difference": loss["default"]["mean"] - loss["fp32"]["mean"],
        "loss_noise": max(loss["default"]["std"], loss["fp32"]["std"]),
        "command": " ".join(["python", "benchmarks/precision_check.py", *sys.argv[1:]]),
        "provenance": provenance(REPO),
    }
    out = REPO / "benchmarks" / "results" / "precision_check.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({m: r["eval"] for m, r in results.items()}, indent=1))
    print(f"loss difference {record['loss_difference']:.2f} (noise {record['loss_noise']:.2f})")
    if args.readme:
        from markdown import replace_block

        replace_block(Path(args.readme), "precision-check", markdown(record))


def markdown(r: dict) -> str:
    modes = r["modes"]
    lines = [
        "| mode | loss, last quarter of the run | " + " | ".join(METRICS) + " |",
        "|" + " --- |" * (2 + len(METRICS)),
    ]
    for mode, m in modes.items():
        loss = m["final_quarter_loss"]
        cells = [f"{m['eval'][k]['mean']:.4f} ± {m['eval'][k]['std']:.4f}" for k in METRICS]
        lines.append(
            f"| {mode} | {loss['mean']:.1f} ± {loss['std']:.1f} | " + " | ".join(cells) + " |"
        )
    verdict = "is within" if abs(r["loss_difference"]) <= r["loss_noise"] else "exceeds"
    lines.append(
        f"\n{r['steps']} steps of `{r['config']}`, seed {r['seed']}, the same data order; the loss "
        f"difference ({r['loss_difference']:.1f}) {verdict} the logged loss's own spread "
        f"({r['loss_noise']:.1f})."
    )
    lines.append(f"Produced by `{r['command']}` (benchmarks/results/precision_check.json).")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
