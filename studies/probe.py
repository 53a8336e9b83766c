"""Where does each factor live? Linear probes on a trained model's codes.

    python studies/probe.py MODEL [MODEL ...] [--train 1800] [--val 540] [--out results/probes]

For every label of the dataset (Sprites: action, body, bottom, top, hair) a multinomial logistic
regression is fitted on posterior means of train sequences and scored on validation sequences (a
diagnostic for choosing a structure, so it reads val, never test), once from
z^c and once from z^m_1..T (flattened). A factor the judge metrics say is "swallowed" shows up here as
high probe accuracy from the wrong code: an action readable from z^c means resampling z^c changes it.
Chance is 1/9 for the action and 1/6 for each attribute.

Beside the probes, the dataset's judge scores the validation reconstructions (posterior means): a label the
decoder does not draw even there cannot survive a swap or a resampled code either.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from rwae.evaluation.judge import judge_dir, load_judge
from rwae.evaluation.protocol import encode_all, spread_indices
from rwae.evaluation.report import load_eval_set
from rwae.models import RWAE
from rwae.models.pretrained import resolve_model_dir
from rwae.provenance import provenance

REPO = Path(__file__).resolve().parents[1]


def fit_probe(
    x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor
) -> float:
    """Test accuracy of an L2-regularised multinomial logistic regression (LBFGS, standardised x)."""
    x, y, x_test = x.clone(), y.clone(), x_test.clone()  # encode_all: inference-mode tensors
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    x, x_test = (x - mean) / std, (x_test - mean) / std
    classes = int(max(y.max(), y_test.max())) + 1
    linear = torch.nn.Linear(x.shape[1], classes)
    opt = torch.optim.LBFGS(linear.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(x), y) + 1e-3 * linear.weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (linear(x_test).argmax(1) == y_test).float().mean().item()


def probe(model_dir: Path, n_train: int, n_test: int) -> dict:
    model = RWAE.from_pretrained(model_dir)
    model.eval()
    codes = {}
    for split, n in (("train", n_train), ("val", n_test)):
        dataset, _, data = load_eval_set(model_dir, None, None, split=split)
        judge = None
        if split == "val" and (judge_dir(dataset) / "config.json").is_file():
            judge = load_judge(dataset)[0].eval()
        codes[split] = encode_all(model, data, spread_indices(len(data), n), 64, judge)
    labels = [k[len("label.") :] for k in codes["val"] if k.startswith("label.")]
    labels = [k for k in labels if codes["val"][f"label.{k}"].dim() == 1 and k != "character"]
    table = {}
    for source in ("static", "dynamic"):
        x_train, x_test = codes["train"][source].flatten(1), codes["val"][source].flatten(1)
        table[source] = {
            name: round(
                fit_probe(
                    x_train, codes["train"][f"label.{name}"], x_test, codes["val"][f"label.{name}"]
                ),
                4,
            )
            for name in labels
        }
    test = codes["val"]
    reconstruction, confusion = (
        {},
        {},
    )  # the judge on the validation reconstructions: what is drawn at all
    for name in labels:
        if f"recon_judged.{name}" not in test:
            continue
        truth, drawn = test[f"label.{name}"], test[f"recon_judged.{name}"].argmax(-1)
        reconstruction[name] = round((drawn == truth).float().mean().item(), 4)
        classes = int(max(truth.max(), drawn.max())) + 1
        counts = torch.bincount(truth * classes + drawn, minlength=classes * classes)
        confusion[name] = counts.reshape(classes, classes).tolist()  # rows: true, columns: judged
    return {
        "model": str(model_dir),
        "probe_accuracy": table,
        "reconstruction_judge_accuracy": reconstruction,
        "reconstruction_confusion": confusion,
        "train_sequences": n_train,
        "val_sequences": n_test,
        "splits": {"probe_fit": "train", "probe_scored": "val"},
        "command": " ".join(["python", *sys.argv]),
        "provenance": provenance(REPO),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", nargs="+")
    parser.add_argument("--train", type=int, default=1800)
    parser.add_argument("--val", type=int, default=540)
    parser.add_argument("--out", default=str(REPO / "results" / "probes"))  # <run folder name>.json
    args = parser.parse_args()
    torch.manual_seed(0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        record = probe(resolve_model_dir(name), args.train, args.val)
        label = Path(name).name
        path = out / f"{label}.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(label, json.dumps(record["probe_accuracy"]), flush=True)


if __name__ == "__main__":
    main()
