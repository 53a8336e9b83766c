"""Time to quality: the CPU time the CPU preset needs before its validation quick check first reads
action_acc >= 0.99 and attribute_acc >= 0.90 together.

    python benchmarks/time_to_quality.py NAME [--set key=value ...] [--max-steps 8000] [--max-cpu-hours H]
    python benchmarks/time_to_quality.py NAME ... --whole-curve   # train on to --max-steps past the target
    python benchmarks/time_to_quality.py --render docs/performance.md   # the table of every result

Trains configs/sprites_cpu.yaml (with the overrides) from scratch into runs/time_to_quality/NAME,
with the judge's quick check on the validation split every 250 steps (judge.csv, with the CPU
seconds spent on training alone so far: checks and pictures left out). When a check reaches both
targets the run is stopped (with --whole-curve it trains on to --max-steps: where the curve ends) (it writes a checkpoint; running the same command again continues it).
Writes benchmarks/results/time_to_quality/NAME.json: cpu_hours_to_target (None if the targets were
not reached within --max-steps), the step, the whole curve, the precision the run chose, the
config, the CPU and the versions.
"""

from __future__ import annotations

import argparse
import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from rwae.provenance import provenance

REPO = Path(__file__).resolve().parents[1]
PRESET = REPO / "configs" / "sprites_cpu.yaml"
TARGETS = {"action_acc": 0.99, "attribute_acc": 0.90}
CHECK_EVERY = 250


def read_curve(run: Path) -> list[dict]:
    path = run / "judge.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def reached(row: dict) -> bool:
    return all(row.get(k, 0.0) >= v for k, v in TARGETS.items())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", nargs="?")
    parser.add_argument("--render", metavar="DOC", help="write the table of all results into DOC")
    parser.add_argument("--set", nargs="*", default=[], help="overrides of the CPU preset")
    parser.add_argument("--max-steps", type=int, default=8000)
    parser.add_argument(
        "--max-cpu-hours", type=float, help="stop at the first check past this training CPU time"
    )
    parser.add_argument(
        "--whole-curve", action="store_true", help="train on to --max-steps after the target"
    )
    parser.add_argument("--runs", default=str(REPO / "runs" / "time_to_quality"))
    args = parser.parse_args()
    if args.render:
        sys.path.insert(0, str(REPO / "benchmarks"))
        from markdown import replace_block

        replace_block(Path(args.render), "time-to-quality", render())
        return
    if not args.name:
        parser.error("name a run (or pass --render DOC)")
    run = Path(args.runs) / args.name
    sets = [
        *args.set,
        f"train.steps={args.max_steps}",
        f"train.judge_every={CHECK_EVERY}",
        "train.sample_every=0",
        "train.checkpoint_every=500",
    ]
    cmd = [sys.executable, "-m", "rwae", "train", "-q", "--out", str(run)]
    if (run / "checkpoints" / "last.pt").is_file():
        cmd += ["--resume", "--set", *sets]
    else:
        cmd += ["--config", str(PRESET), "--set", *sets]
    hit = next((r for r in read_curve(run) if reached(r)), None)
    if hit is None or args.whole_curve:
        proc = subprocess.Popen(cmd)
        while proc.poll() is None:
            time.sleep(5)
            curve = read_curve(run)
            hit = next((r for r in curve if reached(r)), None)
            spent = curve[-1]["train_cpu_seconds"] / 3600 if curve else 0.0
            done = hit is not None and not args.whole_curve
            if done or (args.max_cpu_hours and spent >= args.max_cpu_hours):
                proc.send_signal(signal.SIGTERM)  # the trainer writes a checkpoint and exits
                proc.wait()
        if hit is None and proc.returncode not in (0, 130):
            raise SystemExit(f"training failed with exit code {proc.returncode}")
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    curve = read_curve(run)
    record = {
        "name": args.name,
        "targets": TARGETS,
        "reached": hit is not None,
        "step_at_target": None if hit is None else int(hit["step"]),
        "cpu_seconds_to_target": None if hit is None else hit["train_cpu_seconds"],
        "cpu_hours_to_target": None if hit is None else round(hit["train_cpu_seconds"] / 3600, 3),
        "steps_trained": state["step"],
        "precision": state.get("precision"),
        "overrides": args.set,
        "preset": str(PRESET.relative_to(REPO)),
        "splits": {"trained_on": state["config"]["data"]["train_split"], "checked_on": "val"},
        "check_every": CHECK_EVERY,
        "curve": [
            {k: r.get(k) for k in ("step", "train_cpu_seconds", "action_acc", "attribute_acc")}
            for r in curve
        ],
        "config": state["config"],
        "command": " ".join(["python", "benchmarks/time_to_quality.py", *sys.argv[1:]]),
        "provenance": provenance(REPO),
    }
    out = REPO / "benchmarks" / "results" / "time_to_quality" / f"{args.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}: cpu_hours_to_target {record['cpu_hours_to_target']}")


def at_cpu_hours(curve: list[dict], hours: float) -> str:
    """attribute_acc at the last check within `hours` of training CPU time ("—" if the run
    stopped before spending them)."""
    within = [p for p in curve if p["train_cpu_seconds"] <= hours * 3600]
    if not within or curve[-1]["train_cpu_seconds"] < hours * 3600 * 0.95:
        return "—"
    return f"{within[-1]['attribute_acc']:.2f}"


def machine(m: dict) -> str:
    """e.g. "AMD EPYC (avx2), 2 threads"; records before cpu_features say the model name only."""
    features = f" ({', '.join(m['cpu_features'])})" if m.get("cpu_features") else ""
    return f"{m.get('cpu', '?')}{features}, {m['threads']} threads"


def render() -> str:
    """One row per results file: the overrides, the precision, steps and CPU-hours to the target."""
    lines = [
        "| run | overrides of the CPU preset | precision | step at target | CPU-hours to target "
        "| attribute_acc at steps 1000 / 2000 / 3000 | attribute_acc at 0.25 / 0.5 CPU-hours "
        "| last check: step, attribute_acc (best) | CPU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for path in sorted((REPO / "benchmarks" / "results" / "time_to_quality").glob("*.json")):
        r = json.loads(path.read_text())
        at = {int(p["step"]): p["attribute_acc"] for p in r["curve"]}
        early = " / ".join(f"{at[s]:.2f}" if s in at else "—" for s in (1000, 2000, 3000))
        equal_cpu = " / ".join(at_cpu_hours(r["curve"], h) for h in (0.25, 0.5))
        last = r["curve"][-1]
        best = max(p["attribute_acc"] for p in r["curve"])
        end = f"{int(last['step'])}, {last['attribute_acc']:.2f} ({best:.2f})"
        hours = r["cpu_hours_to_target"]
        hours = (
            f"**{hours:.2f}**"
            if hours is not None
            else f"not reached in {r['steps_trained']} steps"
        )
        lines.append(
            f"| {r['name']} | {' '.join(f'`{o}`' for o in r['overrides']) or '—'} "
            f"| {(r['precision'] or {}).get('mode', '?')} | {r['step_at_target'] or '—'} | {hours} "
            f"| {early} | {equal_cpu} | {end} | {machine(r['provenance']['machine'])} |"
        )
    lines.append(
        "\nTarget: the validation quick check (270 sequences, every 250 steps) reads action_acc >= "
        "0.99 and attribute_acc >= 0.90 together. CPU-hours: the training process's CPU time (both "
        "threads), quick checks left out; at equal CPU time the runs compare across batch sizes. One "
        "seed each unless the name says otherwise. Produced by `python "
        "benchmarks/time_to_quality.py NAME [--set ...]`, rendered by `python "
        "benchmarks/time_to_quality.py --render docs/performance.md`."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
