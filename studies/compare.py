"""Issue #6's comparison on Sprites: R-WAE (MMD), R-WAE (GAN), DSVAE and weakly supervised R-WAE,
trained from the CPU preset with the same sizes, data, steps and seed, each with the structure that
was best for it in docs/ablation.md, then evaluated on the whole test split.

    python studies/compare.py list
    python studies/compare.py run MODEL [--steps 6000] [--repeats 3]   # resumable: run it again
    python studies/compare.py render        # results/compare -> README.md and docs/results.md

A run trains with `rwae train` (continued from its last checkpoint when one exists), evaluates with
`rwae eval` (R repeats, the whole test split, pictures), and writes results/compare/<model>.json with
the metrics, the training cost (CPU-hours of every session as the trainer recorded them, steps,
sequences seen), the judge's
accuracy and the provenance.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from common import (
    KL_BOTH,
    REPO,
    cost_record,
    plot_judge_curves,
    publish_table,
    study_parser,
    train_and_evaluate,
)

RESULTS = REPO / "results" / "compare"
SHIPPED = REPO / "src" / "rwae" / "models" / "shipped" / "default" / "results.json"
BASE = "configs/sprites_cpu.yaml"
# model -> (label, --set overrides on top of the CPU preset); every model gets the CPU preset's sizes,
# data, steps and seed, and the structure that was best for it in the study (docs/ablation.md)
MODELS: dict[str, tuple[str, list[str]]] = {
    "rwae_mmd": ("R-WAE (MMD)", []),
    # the GAN penalty was not in the structure study: R-WAE (MMD)'s structure, β = 10 untuned
    "rwae_gan": (
        "R-WAE (GAN)",
        [
            "model.static_penalty=gan",
            "model.dynamic_penalty=gan",
            "model.beta_static=10.0",
            "model.beta_dynamic=10.0",
        ],
    ),
    # DSVAE's best structure in docs/ablation.md (dsvae_residual_mask_warm_100) is the preset's: the
    # dynamic encoder over the residual mask and the warm-start price on z^c, with a KL on both codes
    "dsvae": ("DSVAE (R-WAE's kl configuration)", KL_BOTH),
    "rwae_weak": ("R-WAE (MMD), weak supervision (9 actions)", ["model.num_actions=9"]),
}


def run(name: str, steps: int, repeats: int, runs: Path) -> Path:
    sets = [*MODELS[name][1], f"train.steps={steps}", "train.seed=0"]
    shared = train_and_evaluate(
        runs / name, BASE, sets, repeats, pictures=RESULTS / name, split="test"
    )
    record = {
        "model": name,
        "label": MODELS[name][0],
        "overrides": MODELS[name][1],
        "base": BASE,
        "seed": 0,
        **shared,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def rows() -> tuple[list[dict], list[tuple]]:
    """The compare records and one (label, metrics, cost, eval) row per model, the built-in default
    last (from its own results file)."""
    done = [n for n in MODELS if (RESULTS / f"{n}.json").is_file()]
    records = [json.loads((RESULTS / f"{n}.json").read_text()) for n in done]
    table = [(r["label"], r["metrics"], r["cost"], r["eval"]) for r in records]
    if SHIPPED.is_file():
        shipped = json.loads(SHIPPED.read_text())
        training = shipped["training"]
        cost = cost_record(training["cost_all_sessions"], training["steps"], training["batch_size"])
        label = f"built-in default (run `{Path(shipped['source_run']).name}`)"
        table.append((label, shipped["metrics"], cost, shipped["eval"]))
    if not table:
        raise SystemExit(
            f"no results in {RESULTS}: run `python studies/compare.py run MODEL` first"
        )
    return records, table


def cell(m: dict, key: str, scale: float = 1.0, digits: int = 2) -> str:
    """mean ± std, or — for a metric an older record does not have"""
    if key not in m:
        return "—"
    return f"{m[key]['mean'] * scale:.{digits}f} ± {m[key]['std'] * scale:.{digits}f}"


def cpu_hours(c: dict) -> str:
    if c["cpu_hours"] is not None:
        return f"{c['cpu_hours']:.2f}"
    return f"≤ {c['wall_hours'] * c['threads']:.2f} (wall × {c['threads']} threads)"


def render_readme() -> str:
    """The README's results: our rows, then the published numbers in a table of their own."""
    sys.path.insert(0, str(REPO / "src"))
    from rwae.evaluation.report import PUBLISHED_SPRITES

    _, table = rows()
    lines = [
        "| model | action_acc (%) | attribute_acc (%) | IS | H(y\\|x) | H(y) | IS of samples "
        "| CPU-hours |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, m, c, _ in table:
        lines.append(
            f"| {label} | {cell(m, 'action_acc', 100)} | {cell(m, 'attribute_acc', 100)} "
            f"| {cell(m, 'inception_score', 1, 3)} | {cell(m, 'h_y_given_x', 1, 3)} "
            f"| {cell(m, 'h_y', 1, 3)} | {cell(m, 'gen_inception_score', 1, 3)} | {cpu_hours(c)} |"
        )
    steps = sorted({c["steps"] for _, _, c, _ in table})
    sizes = sorted({e["num_sequences"] for *_, e in table})
    lines.append(
        f"\nOne training seed per row (seed 0), {'/'.join(map(str, steps))} steps of the CPU preset "
        f"with each model's structure; `rwae eval` on the whole test split ({'/'.join(map(str, sizes))} "
        "sequences), ± over evaluation draws only. These runs predate the validation split: they "
        "trained on all training data, and their structures were chosen on test. Rendered by "
        "`python studies/compare.py render`; every column, the costs and the curves are in "
        "[docs/results.md](docs/results.md)."
    )
    lines += [
        "\nPublished numbers, for reference — each paper used its own judge and trained on GPUs for "
        "hundreds of epochs, so they do not compare cell by cell with ours:\n",
        "| model | Acc (%) | IS | H(y\\|x) | H(y) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, (acc, inception, h_y_x, h_y) in PUBLISHED_SPRITES.items():
        lines.append(f"| {label} | {acc:.2f} | {inception:.3f} | {h_y_x:.3f} | {h_y:.3f} |")
    return "\n".join(lines)


def render_detail() -> str:
    """docs/results.md: every column of each model, its cost and the judge's accuracy, and the
    quick checks over training."""
    records, table = rows()
    lines = [
        "| model | action_acc (%) | attribute_acc (%) | attributes in reconstructions (%) "
        "| swap action / attributes (%) | IS of samples | H(y\\|x) of samples "
        "| action consistency of samples | recon MSE "
        "| cost: CPU-h / steps / sequences | judge acc. (action) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, m, c, evaluation in table:
        accuracy = evaluation["judge"]["test_accuracy"]["accuracy.action"]
        swap = f"{cell(m, 'swap_action_acc', 100)} / {cell(m, 'swap_attribute_acc', 100)}"
        lines.append(
            f"| {label} | {cell(m, 'action_acc', 100)} | {cell(m, 'attribute_acc', 100)} "
            f"| {cell(m, 'recon_attribute_acc', 100)} | {swap} "
            f"| {cell(m, 'gen_inception_score', 1, 3)} | {cell(m, 'gen_h_y_given_x', 1, 3)} "
            f"| {cell(m, 'gen_action_consistency', 1, 3)} | {m['recon_mse']['mean']:.4f} "
            f"| {cpu_hours(c)} / {c['steps']} / {c['sequences_seen']:,} | {100 * accuracy:.2f}% |"
        )
    protocols = ", ".join(
        sorted({f"{e['num_sequences']} sequences, R = {e['repeats']} repeats" for *_, e in table})
    )
    lines.append(
        f"\n`python studies/compare.py run MODEL` (seed 0, base `{BASE}`; the same sizes, data and "
        "steps for every model, each with its best structure from docs/ablation.md; R-WAE (GAN), not "
        "in that study, takes R-WAE (MMD)'s) and the built-in default "
        "(`python studies/ship_default.py RUN`), evaluated with `rwae eval` on the whole test split "
        f"({protocols}); rendered by `python studies/compare.py render`. action_acc: keep z^m, "
        "resample z^c, the judge must still see the action (the published 'Acc' column); "
        "attribute_acc: keep z^c, resample z^m; attributes in reconstructions: the judge on each "
        "sequence decoded from its own codes, a ceiling for attribute_acc; swap: static of one "
        "sequence with the dynamics of another; IS / H(y|x) of samples: both codes drawn from their "
        "priors."
    )
    lines += training_curves(records)
    pending = [MODELS[n][0] for n in MODELS if not (RESULTS / f"{n}.json").is_file()]
    if pending:
        lines.append(f"Not finished yet: {'; '.join(pending)}.")
    return "\n".join(lines)


def training_curves(records: list[dict], every: int = 1000) -> list[str]:
    """The judge's quick checks over training for the models whose record carries them: a table of
    attribute_acc every `every` steps and a plot of both metrics (docs/images/compare_curves.png)."""
    with_curves = [r for r in records if r.get("judge_curve")]
    if not with_curves:
        return []
    curves = {r["label"]: r["judge_curve"] for r in with_curves}
    sizes = "/".join(sorted({str(r["config"]["train"]["judge_sequences"]) for r in with_curves}))
    steps = sorted({p["step"] for c in curves.values() for p in c if p["step"] % every == 0})
    at = {label: {p["step"]: p["attribute_acc"] for p in c} for label, c in curves.items()}
    table = [
        "| step | " + " | ".join(curves) + " |",
        "| --- |" + " --- |" * len(curves),
    ]
    for step in steps:
        values = [f"{at[label][step]:.3f}" if step in at[label] else "—" for label in curves]
        table.append(f"| {int(step)} | " + " | ".join(values) + " |")
    plot_judge_curves(curves, REPO / "docs" / "images" / "compare_curves.png")
    return [
        f"\nattribute_acc in the judge's quick check during training ({sizes} spread-out test "
        "sequences, one draw; `judge_curve` in each results file):\n",
        *table,
        "\n![both metrics over training](images/compare_curves.png)\n",
    ]


def main() -> None:
    parser, sub = study_parser(__doc__)
    p = sub.add_parser("run")
    p.add_argument("models", nargs="+", choices=sorted(MODELS))
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--runs", default="runs/compare")
    args = parser.parse_args()
    if args.command == "list":
        for name, (label, sets) in MODELS.items():
            print(f"{name:10s} {label}: {' '.join(sets) or '(the preset)'}")
    elif args.command == "render":
        publish_table(render_readme(), REPO / "README.md", "results-table")
        publish_table(render_detail(), REPO / "docs" / "results.md", "results-detail")
    else:
        for name in args.models:
            print(f"wrote {run(name, args.steps, args.repeats, Path(args.runs))}", flush=True)


if __name__ == "__main__":
    main()
