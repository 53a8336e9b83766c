"""Does the precision `auto` chooses learn the same as plain fp32? Three seeds of each.

    python benchmarks/precision_check.py [--steps 800] [--seeds 0 1 2] [--doc docs/performance.md]

Trains configs/sprites_cpu.yaml in plain fp32 eager (benchmarks/throughput.py's PLAIN_FP32) and in
the default mode (train.precision=auto: on a CPU where bf16 autocast is faster, bf16), each with
every seed, then evaluates each on 540 spread-out validation sequences (R = 2).

Rounding differences make two runs drift apart after a few hundred steps as two seeds do, so the
yardstick is fp32's own spread over seeds: the default mode learns the same when its mean over
seeds lies within the range of fp32's seeds, on the loss over the last quarter of the run and on
both judge metrics. Writes benchmarks/results/precision_check.json.
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
    common += ["train.sample_every=0"]
    if not (out / "model" / "config.json").is_file():
        cmd = ["rwae", "train", "-q", "--config", str(REPO / "configs" / "sprites_cpu.yaml")]
        resume = ["--resume"] if (out / "checkpoints" / "last.pt").is_file() else []
        subprocess.run([*cmd, "--out", str(out), *resume, "--set", *common, *sets], check=True)
    eval_dir = out / "eval_check"
    cmd = ["rwae", "eval", str(out), "--split", "val", "--limit", "540", "--repeats", "2"]
    subprocess.run([*cmd, "--out", str(eval_dir), "--overwrite", "--no-pictures"], check=True)
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    tail = [float(r["loss"]) for r in rows[-max(1, len(rows) // 4) :]]
    evaluation = json.loads((eval_dir / "results.json").read_text())["metrics"]
    summary = json.loads((out / "train_summary.json").read_text())
    return {
        "overrides": sets,
        "precision": summary["precision"]["mode"],
        "final_quarter_loss": statistics.mean(tail),
        **{k: evaluation[k]["mean"] for k in METRICS},
    }


MODES = {"fp32": PLAIN_FP32, "default": []}  # default: train.precision=auto
COMPARED = ("final_quarter_loss", *METRICS)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", default="runs/precision_check")
    parser.add_argument(
        "--doc", default=None, help="also write the precision-check block of this Markdown file"
    )
    args = parser.parse_args()
    runs = Path(args.runs) / f"{args.steps}_steps"
    results = {
        mode: {
            seed: train_and_eval(
                runs / f"{mode}_seed_{seed}", args.steps, [*sets, f"train.seed={seed}"]
            )
            for seed in args.seeds
        }
        for mode, sets in MODES.items()
    }
    summary = {
        mode: {
            k: {
                "mean": statistics.mean(r[k] for r in per_seed.values()),
                "std": statistics.stdev(r[k] for r in per_seed.values()),
                "min": min(r[k] for r in per_seed.values()),
                "max": max(r[k] for r in per_seed.values()),
            }
            for k in COMPARED
        }
        for mode, per_seed in results.items()
    }
    record = {
        "steps": args.steps,
        "config": "configs/sprites_cpu.yaml",
        "seeds": args.seeds,
        "evaluated_on": "val (540 sequences, R = 2)",
        "runs": {
            mode: {str(s): r for s, r in per_seed.items()} for mode, per_seed in results.items()
        },
        "summary": summary,
        "command": " ".join(["python", "benchmarks/precision_check.py", *sys.argv[1:]]),
        "provenance": provenance(REPO),
    }
    out = REPO / "benchmarks" / "results" / "precision_check.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(markdown(record))
    if args.doc:
        from markdown import replace_block

        replace_block(Path(args.doc), "precision-check", markdown(record))


def markdown(r: dict) -> str:
    s = r["summary"]
    lines = [
        "| mode | precision chosen | " + " | ".join(COMPARED) + " |",
        "|" + " --- |" * (2 + len(COMPARED)),
    ]
    for mode, per_seed in r["runs"].items():
        chosen = "/".join(sorted({run["precision"] for run in per_seed.values()}))
        cells = [f"{s[mode][k]['mean']:.4g} ± {s[mode][k]['std']:.2g}" for k in COMPARED]
        lines.append(f"| {mode} | {chosen} | " + " | ".join(cells) + " |")
    verdicts = []
    for k in COMPARED:
        ref, mean = s["fp32"][k], s["default"][k]["mean"]
        inside = ref["min"] <= mean <= ref["max"]
        verdicts.append(f"{k} {'within' if inside else 'outside'} fp32's range")
    lines.append(
        f"\n{r['steps']} steps of `{r['config']}` with seeds {', '.join(map(str, r['seeds']))} in "
        f"each mode; mean ± std over the seeds; judge metrics on {r['evaluated_on']}. The default "
        f"mode's mean against the range of fp32's seeds: {'; '.join(verdicts)}. "
        f"Produced by `{r['command']}` (benchmarks/results/precision_check.json)."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
