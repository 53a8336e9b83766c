"""Issue #21: where do samples lose their actions? The learned prior's first step against a mixture
fitted to the posterior's first codes.

    python studies/dynamic_start.py run [MODEL ...] [--components 1 3 9 27] [--count 900]
    python studies/dynamic_start.py render     # results/generation/dynamic_start_*.json -> docs

For each MODEL (default: the built-in `default`; a run or model folder), unconditional samples
(z^c ~ N(0, I)) are judged with z^m drawn (a) from the learned prior as trained, (b) with z^m_1
replaced by a draw from a K-component Gaussian mixture fitted to the first codes of training
sequences (`rwae fit-prior`, `model.dynamic_start_components`) and the learned prior from there,
for each K, and (c) with z^m_1 taken from the posterior of a random validation sequence (what a
perfect start would give). Each: IS, H(y|x), H(y) of the judged action, the share of samples whose
halves show the same action, how often the judge reads each action, over R draws of `--count`
samples. If (b) and (c) beat (a), the prior's first step, not its dynamics or the decoder, held the
samples back. Writes results/generation/dynamic_start_<model>.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from common import REPO, publish_table, study_parser

from rwae.dynamic_start import first_dynamic_codes, fit_to_codes, with_dynamic_start
from rwae.evaluation.judge import load_judge
from rwae.evaluation.protocol import generation_scores, judge_generated, spread_indices
from rwae.evaluation.report import load_eval_set, training_data
from rwae.models import RWAE
from rwae.models.networks import reparameterize
from rwae.models.pretrained import resolve_model_dir
from rwae.provenance import provenance

RESULTS = REPO / "results" / "generation"
KEEP = ("gen_inception_score", "gen_h_y_given_x", "gen_h_y", "gen_action_consistency")


@torch.no_grad()
def dynamics_from(model: RWAE, first: torch.Tensor | None, length: int, g) -> torch.Tensor:
    """z^m (n, length, dm) from the learned prior, its first code replaced by `first` (n, dm)."""
    n = len(first)
    z = torch.zeros(n, 1, model.config.dynamic_dim)
    state, zs = None, []
    for t in range(length):
        mu, logvar, state = model.generative.prior(z, None, state)
        z = first[:, None] if t == 0 else reparameterize(mu, logvar, g)  # (n, dm) -> (n, 1, dm)
        zs.append(z)
    return torch.cat(zs, 1)


def judged_scores(model: RWAE, judge, z_m: torch.Tensor, g) -> dict:
    """Generation scores of samples with these z^m and z^c ~ N(0, I), and the judged actions' counts."""
    z_c = model.generative.sample_static(len(z_m), g)
    judged = judge_generated(model, judge, z_c, z_m, None, 300, halves=True)
    scores = {k: v for k, v in generation_scores(judged, judge, "action").items() if k in KEEP}
    counts = torch.bincount(judged["action"].argmax(-1), minlength=judged["action"].shape[1])
    return {**scores, "action_counts": counts.tolist()}


def summarise(draws: list[dict]) -> dict:
    """Mean and std over draws of each score; the action counts summed."""
    out = {}
    for key in KEEP:
        values = torch.tensor([d[key] for d in draws])
        out[key] = {
            "mean": float(values.mean()),
            "std": float(values.std()) if len(draws) > 1 else 0.0,
        }
    out["action_counts"] = torch.tensor([d["action_counts"] for d in draws]).sum(0).tolist()
    return out


def study(model_name: str, components: list[int], count: int, repeats: int, sequences: int) -> Path:
    model_dir = resolve_model_dir(model_name)
    model = RWAE.from_pretrained(model_dir).float().eval()
    dataset, _, train = load_eval_set(model_dir, None, None, "train")
    val = load_eval_set(model_dir, None, None, "val")[2]
    judge, _ = load_judge(dataset)
    length = int(training_data(model_dir).get("seq_len", 8))
    val_first = first_dynamic_codes(model, val, spread_indices(len(val), min(count, len(val))))
    # the training codes encoded once, each K fitted to them (as `fit_dynamic_start` does per K)
    train_first = first_dynamic_codes(model, train, spread_indices(len(train), sequences))
    fitted = {k: with_dynamic_start(model, k) for k in components}
    for m in fitted.values():
        fit_to_codes(m, train_first)
    sources: dict[str, list[dict]] = {}
    for r in range(repeats):
        g = torch.Generator().manual_seed(r)
        own = model.generative.sample_dynamics(count, length, None, g, fitted_start=False)
        draw = {"learned_prior": own}
        for k, m in fitted.items():
            draw[f"mixture_{k}"] = m.generative.sample_dynamics(count, length, None, g)
        pick = torch.randint(len(val_first), (count,), generator=g)
        draw["validation_first_codes"] = dynamics_from(model, val_first[pick], length, g)
        for name, z_m in draw.items():
            sources.setdefault(name, []).append(judged_scores(model, judge, z_m, g))
    record = {
        "model": model_name,
        "dataset": dataset,
        "splits": {"mixture_fitted_on": "train", "first_codes_from": "val"},
        "sequences_encoded": min(sequences, len(train)),
        "samples": count,
        "repeats": repeats,
        "scores": {name: summarise(d) for name, d in sources.items()},
        "command": " ".join(["python", "studies/dynamic_start.py", *sys.argv[1:]]),
        "provenance": provenance(REPO),
    }
    out = RESULTS / f"dynamic_start_{Path(model_name).name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    return out


def render() -> str:
    def cell(s: dict, key: str) -> str:
        return f"{s[key]['mean']:.3f} ± {s[key]['std']:.3f}"

    lines = [
        "| model | z^m_1 from | " + " | ".join(KEEP) + " | judged actions (counts) |",
        "| --- | --- | " + " | ".join("---" for _ in KEEP) + " | --- |",
    ]
    for path in sorted(RESULTS.glob("dynamic_start_*.json")):
        r = json.loads(path.read_text())
        for name, s in r["scores"].items():
            cells = " | ".join(cell(s, k) for k in KEEP)
            counts = " ".join(str(c) for c in s["action_counts"])
            lines.append(f"| `{r['model']}` | {name} | {cells} | {counts} |")
    lines.append(
        "\nUnconditional samples (z^c ~ N(0, I)), mean ± std over R = 3 draws of 900; the mixtures "
        "fitted to the first codes of 4000 training sequences, the validation first codes of 900 "
        "validation sequences. Produced by `python studies/dynamic_start.py run MODEL`, rendered "
        "by `python studies/dynamic_start.py render`."
    )
    return "\n".join(lines)


def main() -> None:
    parser, sub = study_parser(__doc__)
    p = sub.add_parser("run")
    p.add_argument("models", nargs="*", default=["default"])
    p.add_argument("--components", type=int, nargs="+", default=[1, 3, 9, 27])
    p.add_argument("--count", type=int, default=900, help="samples of each kind and draw")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sequences", type=int, default=4000, help="training sequences encoded")
    args = parser.parse_args()
    if args.command == "run":
        for model in args.models:
            path = study(model, args.components, args.count, args.repeats, args.sequences)
            print(f"wrote {path}", flush=True)
    elif args.command == "render":
        publish_table(render(), REPO / "docs" / "generation.md", "dynamic-start-table")
    else:
        print("models: the built-in `default`, or any run or model folder")


if __name__ == "__main__":
    main()
