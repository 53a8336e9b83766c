"""Training-step speed of presets in three precision modes, measured in one run on this machine.

    python benchmarks/train_speed.py [--repeats 5] [--readme README.md]

For each preset: sequences/s of a full step (forward, backward, Adam) on a real Sprites batch for
fp32 eager (contiguous), fp32 + channels_last, and bf16 autocast + channels_last; medians after
warm-up. Writes benchmarks/results/train_speed.json and the README block `train-speed`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from markdown import replace_block

from rwae import RWAE, data
from rwae.config import load_config
from rwae.provenance import provenance

REPO = Path(__file__).resolve().parents[1]
MODES = {
    "fp32": {"bf16": False, "channels_last": False},
    "fp32_channels_last": {"bf16": False, "channels_last": True},
    "bf16_channels_last": {"bf16": True, "channels_last": True},
}


def step_seconds(config, x: torch.Tensor, bf16: bool, channels_last: bool, repeats: int) -> float:
    torch.manual_seed(0)
    model = RWAE(config.model).set_channels_last(channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for i in range(repeats + 2):  # two warm-up steps
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x)
        optimizer.zero_grad(set_to_none=True)
        (out.loss + out.critic_loss).backward()
        optimizer.step()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", nargs="+", default=["sprites_rwae_mmd", "sprites_cpu"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "train_speed.json"))
    parser.add_argument("--readme", default=None)
    args = parser.parse_args()
    test = data.load("sprites", "test")
    rows = {}
    for preset in args.presets:
        config = load_config(REPO / "configs" / f"{preset}.yaml")
        batch = config.train.batch_size
        x = test.batch(list(range(batch)))["x"]
        rows[preset] = {
            "batch_size": batch,
            "default_mode": {
                "bf16": config.train.bf16,
                "channels_last": config.train.channels_last,
            },
        }
        for mode, flags in MODES.items():
            seconds = step_seconds(config, x, repeats=args.repeats, **flags)
            rows[preset][mode] = {
                "step_seconds": round(seconds, 4),
                "seq_per_s": round(batch / seconds, 2),
            }
            print(preset, mode, rows[preset][mode], flush=True)
    result = {"presets": rows, "repeats": args.repeats, **provenance(REPO)}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    if args.readme:
        lines = [
            "| preset | batch | fp32 (seq/s) | fp32 + channels_last | bf16 + channels_last |",
            "| --- | --- | --- | --- | --- |",
        ]
        for preset, r in rows.items():
            base = r["fp32"]["seq_per_s"]
            cells = [f"{r[m]['seq_per_s']} ({r[m]['seq_per_s'] / base:.2f}x)" for m in MODES]
            lines.append(f"| {preset} | {r['batch_size']} | " + " | ".join(cells) + " |")
        lines.append(
            f"\nMedian of {args.repeats} full training steps after warm-up, on a real Sprites batch; "
            f"`python benchmarks/train_speed.py --readme README.md` ({Path(args.out).relative_to(REPO)}), "
            f"torch {result['torch_version']}, {result['machine']['threads']} threads."
        )
        replace_block(Path(args.readme), "train-speed", "\n".join(lines))


if __name__ == "__main__":
    main()
