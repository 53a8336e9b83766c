"""What the study scripts share: the DSVAE overrides, starting or continuing a training run, and
turning a finished run into the fields of a results record."""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The DSVAE configuration of the one model class: a KL on both codes, β = 1
KL_BOTH = [  # the DSVAE baseline; its KL already fits the prior by likelihood
    "model.static_penalty=kl",
    "model.dynamic_penalty=kl",
    "model.prior_fit=penalty",
    "model.prior_pull=0.0",  # the CPU preset's pull is this KL's encoder side: the KL has it whole
    "model.beta_static=1.0",
    "model.beta_dynamic=1.0",
]


def train_or_resume(out: Path, base: str, sets: list[str]) -> None:
    """`rwae train` into `out` from the `base` config with `sets` applied, or, when `out` has a
    checkpoint, continue from it with the same `sets` applied."""
    cmd = ["rwae", "train", "-q", "--out", str(out)]
    if (out / "checkpoints" / "last.pt").is_file():
        cmd += ["--resume", "--set", *sets]
    else:
        cmd += ["--config", base, "--set", *sets]
    subprocess.run(cmd, check=True)


def read_judge_curve(run_dir: Path) -> list[dict]:
    """The judge's quick checks over a run's training (its judge.csv), one dict per check; none
    for data without a judge."""
    if not (run_dir / "judge.csv").is_file():
        return []
    with open(run_dir / "judge.csv", newline="") as f:
        # a column added by a newer version is blank in the rows logged before it
        return [
            {k: float(v) if v != "" else None for k, v in row.items()} for row in csv.DictReader(f)
        ]


def plot_judge_curves(curves: dict[str, list[dict]], out: Path) -> None:
    """Draw `action_acc` and `attribute_acc` over training, one line per label, from each run's
    quick-check curve (`read_judge_curve`)."""
    from rwae.pictures import plot_lines

    panels = {
        name: {label: ([p["step"] for p in c], [p[name] for p in c]) for label, c in curves.items()}
        for name in ("action_acc", "attribute_acc")
    }
    plot_lines(panels, out, y_range=(0.0, 1.0))


def cost_record(cost: dict, steps: int, batch_size: int) -> dict:
    """A run's training cost for a results table: steps, sequences seen, CPU- and wall-hours from the
    trainer's seconds (`cpu_hours` None when unknown; `threads` kept when recorded)."""
    record = {
        "steps": steps,
        "batch_size": batch_size,
        "sequences_seen": steps * batch_size,
        "cpu_hours": None if cost["cpu_seconds"] is None else round(cost["cpu_seconds"] / 3600, 3),
        "wall_hours": round(cost["wall_seconds"] / 3600, 3),
    }
    if cost.get("threads") is not None:
        record["threads"] = cost["threads"]
    return record


def train_and_evaluate(
    out: Path,
    base: str,
    sets: list[str],
    repeats: int,
    pictures: Path,
    split: str,
    limit: int | None = None,
) -> dict:
    """Train (or continue) the run `out`, evaluate it with `rwae eval` on `split` (R = `repeats`,
    the whole split unless `limit`; "val" for selection, "test" for final tables only), copy its
    pictures into `pictures`, and return the record fields every study shares: cost, metrics, the
    splits, eval protocol with the judge's accuracy, the quick checks over training, config and
    versions."""
    train_or_resume(out, base, sets)
    eval_dir = out / f"eval_{split}"
    evaluate = ["rwae", "eval", str(out), "--split", split, "--repeats", str(repeats)]
    evaluate += ["--out", str(eval_dir)]
    if limit is not None:
        evaluate += ["--limit", str(limit)]
    subprocess.run([*evaluate, "--overwrite"], check=True)
    evaluation = json.loads((eval_dir / "results.json").read_text())
    summary = json.loads((out / "train_summary.json").read_text())
    train = summary["config"]["train"]
    pictures.mkdir(parents=True, exist_ok=True)
    for png in sorted(eval_dir.glob("*.png")):
        shutil.copy2(png, pictures / png.name)
    return {
        # every session of the run, all threads
        "cost": cost_record(summary["cost_all_sessions"], train["steps"], train["batch_size"]),
        "metrics": evaluation["metrics"],
        "splits": evaluation["splits"],
        "eval": {
            "repeats": repeats,
            "num_sequences": evaluation["evaluation"]["num_sequences"],
            "judge": evaluation["judge"],
        },
        "judge_curve": read_judge_curve(out),
        # how it trained: the precision `auto` chose (and its timings), the CPU, the command
        "training": {
            "precision": summary.get("precision"),
            "machine": summary.get("machine"),
            "command": summary.get("command"),
        },
        "config": summary["config"],
        "versions": evaluation["versions"],
    }


def study_parser(doc: str) -> tuple[argparse.ArgumentParser, object]:
    """A study's command line with its `list` and `render` commands; the caller adds `run` to the
    returned subparsers."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    sub.add_parser("render")
    return parser, sub


def publish_table(table: str, doc: Path, block: str) -> None:
    """Print a rendered table and write it into the generated `block` of the Markdown file `doc`."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from markdown import replace_block

    replace_block(doc, block, table)
    print(table)


def seeded(name: str, seed: int) -> str:
    """A variant's run and record name for a training seed: `name` for seed 0, `name_seed_S` else."""
    return name if seed == 0 else f"{name}_seed_{seed}"


def run_variant(
    results: Path,
    runs: Path,
    name: str,
    base: str,
    overrides: list[str],
    repeats: int = 3,
    split: str = "val",
) -> Path:
    """Train (or continue) the run `name` from `base` with `overrides`, evaluate it on `split`
    (R = `repeats`; "val" to choose, "test" to report what was chosen, written under test/) and
    write results/<study>/[test/]<name>.json with the pictures."""
    folder = results if split == "val" else results / split
    shared = train_and_evaluate(
        runs / name, base, overrides, repeats, pictures=folder / name, split=split
    )
    record = {
        "variant": name,
        "overrides": overrides,
        "base": base,
        "seed": shared["config"]["train"]["seed"],
        **shared,
        "command": " ".join(["python", *sys.argv]),
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def variant_records(results: Path, variants: dict) -> list[tuple[str, dict]]:
    """The validation records of a variant study in the order of `variants`, each variant's seeds
    in order: (record name, record)."""
    found = []
    for name in variants:
        paths = [results / f"{name}.json", *results.glob(f"{name}_seed_*.json")]
        records = [json.loads(p.read_text()) for p in paths if p.is_file()]
        found += [(seeded(name, r["seed"]), r) for r in sorted(records, key=lambda r: r["seed"])]
    return found


def variant_study(
    doc: str, results: Path, base: str, common: list[str], variants: dict[str, list[str]]
) -> tuple[argparse.ArgumentParser, object, Callable[[argparse.Namespace], bool]]:
    """The command line of a study of variants of `base` (`list`, `run VARIANT ... [--seed S]
    [--split test]`, `render`); the caller may add commands, then passes the parsed arguments to
    the returned handler, which does `list` and `run` (each variant: `common`, its own overrides,
    then the seed) and says whether it did. `--split test` evaluates the finished (or continued)
    run on the test split, for what was chosen on validation."""
    parser, sub = study_parser(doc)
    p = sub.add_parser("run")
    p.add_argument("variants", nargs="+", choices=sorted(variants))
    p.add_argument("--seed", type=int, default=0, help="training seed (records: NAME_seed_S)")
    p.add_argument("--split", choices=("val", "test"), default="val")
    p.add_argument("--runs", default=f"runs/{results.name}")

    def handle(args: argparse.Namespace) -> bool:
        if args.command == "list":
            for name, overrides in variants.items():
                print(f"{name:34s} {' '.join([*common, *overrides])}")
        elif args.command == "run":
            for name in args.variants:
                sets = [*common, *variants[name], f"train.seed={args.seed}"]
                run = seeded(name, args.seed)
                path = run_variant(results, Path(args.runs), run, base, sets, split=args.split)
                print(f"wrote {path}", flush=True)
        else:
            return False
        return True

    return parser, sub, handle


def posterior_codes(model, data, indices: list[int], batch_size: int = 64) -> dict:
    """Posterior samples, means and log-variances of z^m (N, T, dm) of an RWAE for the given
    sequences (samples from a fixed seed)."""
    import torch

    from rwae.data.dataset import fetch

    model.train(False)
    parts: dict[str, list[torch.Tensor]] = {}
    g = torch.Generator().manual_seed(0)
    inference = model.inference
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            x = fetch(data, indices[start : start + batch_size])["x"]
            hs = inference.encoder_lstm(inference.frame_features(x, inference.frame_encoder))[0]
            if model.config.dynamic_input != "frames":
                hs = inference.dynamic_features(x)
            mean, logvar, sample = inference.dynamic_posterior(hs, "sample", g)
            for k, v in (("mean", mean), ("logvar", logvar), ("sample", sample)):
                parts.setdefault(k, []).append(v.float())
    return {k: torch.cat(v) for k, v in parts.items()}
