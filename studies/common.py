"""What the study scripts share: the DSVAE overrides and starting or continuing a training run."""

from __future__ import annotations

import subprocess
from pathlib import Path

# The DSVAE configuration of the one model class: a KL on both codes, β = 1
KL_BOTH = [
    "model.static_penalty=kl",
    "model.dynamic_penalty=kl",
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
