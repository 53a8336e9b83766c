"""How well does each z^c ⟂ z^m estimator see the dependence of a trained model's codes?

    python studies/independence_power.py MODEL [--batch 32] [--draws 20]

On training batches of the given size, both estimators of `model.independence_estimator` are computed
on the model's posterior means (z^c, z^m_1..T), and again after shuffling z^c across the batch (which
makes the codes independent by construction). A useful penalty separates the two clearly: the
script reports mean and std over the draws and the signal-to-noise ratio
(mean(dependent) - mean(shuffled)) / std(shuffled). Writes results/independence_power.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from rwae import data
from rwae.data.dataset import fetch
from rwae.losses import hsic, mmd
from rwae.models import RWAE
from rwae.models.pretrained import resolve_model_dir
from rwae.models.rwae import independence_pairs
from rwae.provenance import provenance

REPO = Path(__file__).resolve().parents[1]
ESTIMATORS = {
    "halves": lambda a, b: mmd(*independence_pairs(a, b)),
    "hsic": hsic,
}


@torch.no_grad()
def measure(model: RWAE, dataset, batch: int, draws: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    values: dict[str, dict[str, list[float]]] = {
        name: {"dependent": [], "shuffled": []} for name in ESTIMATORS
    }
    for _ in range(draws):
        idx = torch.randperm(len(dataset), generator=g)[:batch].tolist()
        post = model.encode(fetch(dataset, idx)["x"])
        z_static, z_dynamic = post.static_mean, post.dynamic_mean.flatten(1)  # (B, dc), (B, T*dm)
        shuffled = z_static[torch.randperm(batch, generator=g)]
        for name, estimator in ESTIMATORS.items():
            values[name]["dependent"].append(float(estimator(z_static, z_dynamic)))
            values[name]["shuffled"].append(float(estimator(shuffled, z_dynamic)))
    report = {}
    for name, v in values.items():
        dep, ind = torch.tensor(v["dependent"]), torch.tensor(v["shuffled"])
        report[name] = {
            "dependent": {"mean": dep.mean().item(), "std": dep.std().item()},
            "shuffled": {"mean": ind.mean().item(), "std": ind.std().item()},
            "signal_to_noise": ((dep.mean() - ind.mean()) / ind.std()).item(),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(REPO / "results" / "independence_power.json"))
    args = parser.parse_args()
    model_dir = resolve_model_dir(args.model)
    model = RWAE.from_pretrained(model_dir).eval()
    trained_on = json.loads((model_dir / "config.json").read_text()).get("training_data") or {}
    dataset = data.load(trained_on.get("name", "sprites"), "train", **trained_on.get("options", {}))
    record = {
        "model": args.model,
        "batch": args.batch,
        "draws": args.draws,
        "seed": args.seed,
        "estimators": measure(model, dataset, args.batch, args.draws, args.seed),
        "command": " ".join(["python", *sys.argv]),
        "provenance": provenance(REPO),
    }
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record["estimators"], indent=2))


if __name__ == "__main__":
    main()
