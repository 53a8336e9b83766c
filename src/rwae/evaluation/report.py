"""`rwae eval`: evaluate a saved model, write results.json and report.md with its pictures."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import torch

from rwae import data as rwae_data
from rwae import precision as arithmetic
from rwae.data.dataset import fetch
from rwae.data.paths import cache_dir
from rwae.errors import RWAEError
from rwae.evaluation.judge import SHIPPED, judge_dir, load_judge
from rwae.evaluation.protocol import evaluate
from rwae.models import RWAE
from rwae.models.pretrained import CONFIG_NAME, is_shipped_name, resolve_model_dir
from rwae.pictures import plot_curves, save_samples, save_swap
from rwae.provenance import provenance

# Published Sprites numbers (DESIGN.md §2): Acc / IS / H(y|x) / H(y), GPU, hundreds of epochs.
PUBLISHED_SPRITES = {
    "R-WAE (Han et al. 2021)": (98.98, 8.516, 0.055, 2.197),
    "DSVAE (Li & Mandt 2018)": (90.73, 8.384, 0.072, 2.192),
    "S3VAE (Zhu et al. 2020)": (99.49, 8.637, 0.041, 2.197),
    "C-DSVAE (Bai et al. 2021)": (99.99, 8.871, 0.014, 2.197),
}


def training_data(model_dir: Path) -> dict:
    meta = json.loads((model_dir / CONFIG_NAME).read_text())
    return meta.get("training_data") or {}


def load_eval_set(model_dir: Path, dataset: str | None, root: str | None, split: str | None = None):
    """(name, split, dataset): by default the test split of the data the model was trained on."""
    trained_on = training_data(model_dir)
    name = dataset or trained_on.get("name") or "sprites"
    same = name == trained_on.get("name")
    options = trained_on.get("options", {}) if same else {}
    split = split or (trained_on.get("test_split") if same else None) or "test"
    return name, split, rwae_data.load(name, split, root or trained_on.get("root"), **options)


def _format(metric: dict) -> str:
    return f"{metric['mean']:.4f} ± {metric['std']:.4f}"


def write_report(out: Path, results: dict, pictures: dict[str, Path]) -> Path:
    m = results["metrics"]
    judge = results.get("judge")
    lines = [
        f"# Evaluation of `{results['model']}`",
        "",
        f"Dataset **{results['dataset']}** ({results['evaluation']['num_sequences']} sequences of the "
        f"{results['splits']['evaluated_on']} split), "
        f"{results['evaluation']['repeats']} repeats from seed {results['seed']}, {results['evaluation']['elapsed_s']} s.",
        "",
    ]
    if judge:
        acc = ", ".join(
            f"{k.removeprefix('accuracy.')} {v:.4f}" for k, v in judge["test_accuracy"].items()
        )
        lines += [f"Judge `{judge['name']}`: test accuracy {acc}.", ""]
    lines += (
        ["| metric | mean ± std |", "| --- | --- |"]
        + [f"| `{k}` | {_format(v)} |" for k, v in m.items()]
        + [""]
    )
    if results["dataset"] == "sprites":
        lines += [
            "Published Sprites numbers for reference (GPU, hundreds of epochs; DESIGN.md §2):",
            "",
            "| model | Acc (%) | IS | H(y\\|x) | H(y) |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {name} | {a} | {b} | {c} | {d} |"
            for name, (a, b, c, d) in PUBLISHED_SPRITES.items()
        ] + [""]
    captions = {
        "swap_png": "Swap: row i keeps the static code of the sequence in column 0, column j takes the dynamics of the sequence in row 0.",
        "swap_gif": "The same swap grid, animated.",
        "samples_gif": "Unconditional samples (z^c and z^m from the priors), animated.",
        "samples_png": "Unconditional samples, frames left to right.",
        "curves": "Training curves from the run's metrics.csv.",
        "judge_curves": "The judge's quick checks during training (judge.csv): both directions of disentanglement.",
    }
    for key, path in pictures.items():
        lines += [captions.get(key, key), "", f"![{key}]({path.name})", ""]
    lines += [f"Command: `{results['command']}`", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path


def run_evaluation(
    model: str | os.PathLike,
    *,
    dataset: str | None = None,
    split: str | None = None,
    repeats: int = 5,
    seed: int = 0,
    out: str | os.PathLike | None = None,
    limit: int | None = None,
    judge: str | None = None,
    overwrite: bool = False,
    batch_size: int = 32,
    root: str | None = None,
    device: str = "cpu",
    pictures: bool = True,
    precision: str = "auto",
) -> dict:
    """Evaluate a saved model (DESIGN.md §2) and write results.json and report.md into `out`.

    precision: "fp32", "bf16" (autocast) or "auto": the faster of the two for encoding, decoding
    and judging a batch, measured here (cached per machine), recorded in results.json."""
    model_dir = resolve_model_dir(model)
    if out is not None:
        out = Path(out)
    elif is_shipped_name(model):  # never write into the installed package
        out = Path(f"eval_{model}")
    else:
        out = model_dir.parent / "eval" if model_dir.name == "model" else model_dir / "eval"
    if (out / "results.json").exists() and not overwrite:
        raise RWAEError(
            f"{out / 'results.json'} exists; pass --overwrite to replace it or choose another --out"
        )
    torch.manual_seed(seed)
    rwae = RWAE.from_pretrained(model_dir, map_location=device).set_channels_last(True)
    name, split, test = load_eval_set(model_dir, dataset, root, split)
    info = getattr(test, "info", None)
    if info is not None and list(info.frame_shape) != list(rwae.config.frame_shape):
        raise RWAEError(
            f"model frames {rwae.config.frame_shape} do not match dataset {name!r} frames {list(info.frame_shape)}; pass --dataset"
        )
    judge_model, judge_results = None, None
    judge_name = judge or (
        name if name in SHIPPED and (judge_dir(name) / "config.json").is_file() else None
    )
    if judge_name is not None:
        judge_model, judge_results = load_judge(judge_name)
        judge_model.to(device).set_channels_last(True)
    chosen = choose_precision(precision, rwae, judge_model, test, batch_size)
    with arithmetic.autocast(chosen["mode"], rwae.device):
        results = evaluate(
            rwae, test, judge_model, repeats=repeats, seed=seed, limit=limit, batch_size=batch_size
        )
    record = {
        "command": provenance()["command"],
        "model": str(model_dir),
        "dataset": name,
        "splits": {
            "trained_on": training_data(model_dir).get("train_split"),
            "evaluated_on": split,
        },
        "config": {
            "model": json.loads((model_dir / CONFIG_NAME).read_text()),
            "repeats": repeats,
            "limit": limit,
            "batch_size": batch_size,
        },
        "seed": seed,
        "versions": {k: v for k, v in provenance().items() if k.endswith("_version")},
        "judge": None
        if judge_model is None
        else {
            "name": str(judge_name),
            "path": judge_results.get("path"),
            "test_accuracy": {
                k: v for k, v in judge_results.get("test", {}).items() if k.startswith("accuracy.")
            },
        },
        "metrics": results["metrics"],
        "per_repeat": results["per_repeat"],
        "evaluation": {k: results[k] for k in ("num_sequences", "repeats", "elapsed_s")},
        "precision": chosen,
        "provenance": provenance(),
    }
    out.mkdir(parents=True, exist_ok=True)
    record["out"] = str(out)
    (out / "results.json").write_text(json.dumps(record, indent=2) + "\n")
    drawn: dict[str, Path] = {}
    if pictures:
        drawn = draw_pictures(rwae, test, out, seed)
        curves = model_dir.parent / "metrics.csv"
        if curves.is_file() and (path := plot_curves(curves, out / "curves.png")):
            drawn["curves"] = path
        checks = model_dir.parent / "judge.csv"
        wanted = [
            "action_acc",
            "attribute_acc",
            "recon_attribute_acc",
            "digit_acc",
            "speaker_acc",
            "motion_error",
            "recon_mse",
        ]
        if checks.is_file():
            with open(checks) as f:
                header = f.readline().strip().split(",")
            columns = [c for c in wanted if c in header]
            if columns and (path := plot_curves(checks, out / "judge_curves.png", columns)):
                drawn["judge_curves"] = path
    write_report(out, record, drawn)
    return record


@torch.inference_mode()
def choose_precision(wanted: str, model: RWAE, judge, data, batch_size: int) -> dict:
    """The evaluation's precision: as asked, or with "auto" the faster of fp32 and bf16 autocast
    on a real batch (encode, decode, judge)."""
    if wanted not in ("auto", *arithmetic.MODES):
        raise RWAEError(f"precision must be auto, fp32 or bf16, got {wanted!r}")
    x = fetch(data, list(range(min(batch_size, len(data)))))["x"].to(model.device)

    def step(mode: str) -> None:
        with arithmetic.autocast(mode, x.device):
            post = model.encode(x)
            recon = model.decode(post.static_mean, post.dynamic_mean, post.action)
            if judge is not None:
                judge.predict(recon, batch_size=batch_size)

    if wanted != "auto":
        if wanted != "fp32":
            arithmetic.require_runs(wanted, step, "precision")
        return {"mode": wanted, "chosen_by": "precision"}

    def measure() -> dict[str, float | None]:
        return arithmetic.seconds_per_mode(step, x.device)

    key = arithmetic.cache_key("eval", dataclasses.asdict(model.config), tuple(x.shape), x.device)
    return {**arithmetic.choose(key, measure, cache_dir() / "precision.json"), "chosen_by": "auto"}


@torch.no_grad()
def draw_pictures(model: RWAE, test, out: Path, seed: int, count: int = 4) -> dict[str, Path]:
    picks = torch.linspace(0, len(test) - 1, count).round().long().tolist()
    x = fetch(test, picks)["x"].to(model.device)
    g = torch.Generator(device=model.device).manual_seed(seed)
    samples = model.generate(8, x.shape[1], generator=g)
    drawn = {
        "swap_png": save_swap(model, x, out / "swap.png"),
        "samples_png": save_samples(samples, out / "samples.png"),
    }
    if model.config.is_image:
        drawn["swap_gif"] = save_swap(model, x, out / "swap.gif")
        drawn["samples_gif"] = save_samples(samples, out / "samples.gif")
    return drawn
