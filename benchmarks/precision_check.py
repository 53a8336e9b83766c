"""Do the fast training modes learn the same as plain fp32? A short fixed-seed run of each.

    python benchmarks/precision_check.py [--steps 800] [--runs runs/precision_check]

Trains configs/sprites_cpu.yaml with the same seed and data order in plain fp32 eager
(benchmarks/throughput.py's PLAIN_FP32), with the default train.* switches, and with the default plus
bf16 autocast; then evaluates each on 540 spread-out test sequences (R = 2).

Rounding differences make two runs drift apart after a few hundred steps, as two seeds do, so the
yardstick for "learns the same" is a second fp32 run with another seed: a mode passes when its loss
over the last quarter of the run is no farther from fp32's than that seed's is. Writes
benchmarks/results/precision_check.json.
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


REFERENCE, YARDSTICK = "fp32", "fp32_seed_1"
# mode -> --set overrides; the yardstick is the reference with another seed
MODES = {
    REFERENCE: PLAIN_FP32,
    YARDSTICK: [*PLAIN_FP32, "train.seed=1"],
    "default": [],
    "default_bf16": ["train.bf16=true"],
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--runs", default="runs/precision_check")
    parser.add_argument(
        "--doc", default=None, help="also write the precision-check block of this Markdown file"
    )
    args = parser.parse_args()
    runs = Path(args.runs) / f"{args.steps}_steps"
    results = {mode: train_and_eval(runs / mode, args.steps, sets) for mode, sets in MODES.items()}
    reference = results[REFERENCE]["final_quarter_loss"]["mean"]
    for r in results.values():
        r["loss_difference"] = r["final_quarter_loss"]["mean"] - reference
    record = {
        "steps": args.steps,
        "config": "configs/sprites_cpu.yaml",
        "seed": 0,
        "reference": REFERENCE,
        "yardstick": YARDSTICK,
        "modes": results,
        "command": " ".join(["python", "benchmarks/precision_check.py", *sys.argv[1:]]),
        "provenance": provenance(REPO),
    }
    out = REPO / "benchmarks" / "results" / "precision_check.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({m: r["eval"] for m, r in results.items()}, indent=1))
    for mode, r in results.items():
        print(f"{mode}: loss difference from {REFERENCE} {r['loss_difference']:+.1f}")
    if args.doc:
        from markdown import replace_block

        replace_block(Path(args.doc), "precision-check", markdown(record))


def markdown(r: dict) -> str:
    modes, reference, yardstick = r["modes"], r["reference"], r["yardstick"]
    seed_gap = abs(modes[yardstick]["loss_difference"])
    lines = [
        f"| mode | loss, last quarter of the run | difference from {reference} | "
        + " | ".join(METRICS)
        + " |",
        "|" + " --- |" * (3 + len(METRICS)),
    ]
    for mode, m in modes.items():
        loss = m["final_quarter_loss"]
        cells = [f"{m['eval'][k]['mean']:.4f} ± {m['eval'][k]['std']:.4f}" for k in METRICS]
        lines.append(
            f"| {mode} | {loss['mean']:.1f} ± {loss['std']:.1f} | {m['loss_difference']:+.1f} | "
            + " | ".join(cells)
            + " |"
        )

    def verdict(difference: float) -> str:
        direction = "lower" if difference < 0 else "higher"
        reach = "within" if abs(difference) <= seed_gap else "beyond"
        return f"{abs(difference):.1f} {direction}, {reach} it"

    verdicts = [
        f"{mode} {verdict(m['loss_difference'])}"
        for mode, m in modes.items()
        if mode not in (reference, yardstick)
    ]
    lines.append(
        f"\n{r['steps']} steps of `{r['config']}`, seed {r['seed']} and the same data order in "
        f"every mode but {yardstick} (its own initialisation and data order); ± is the spread of "
        f"the logged loss and of the evaluation's repeats. Another seed moves the loss by "
        f"{seed_gap:.1f}; {'; '.join(verdicts)}."
    )
    lines.append(f"Produced by `{r['command']}` (benchmarks/results/precision_check.json).")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
