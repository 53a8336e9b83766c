"""Training curves: metrics.csv (always, flushed per row) and TensorBoard (optional extra)."""

from __future__ import annotations

import csv
from pathlib import Path

from rwae.errors import RWAEError


def truncate_csv_after(path: Path, step: int) -> list[str] | None:
    """On resume, drop the rows of a per-step CSV logged after the checkpoint (they will be logged
    again); returns its columns, or None if the file is missing or empty."""
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    fields = list(rows[0].keys())
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(r for r in rows if int(r["step"]) <= step)
    return fields


class MetricsLogger:
    def __init__(
        self, folder: Path, *, resume_step: int | None = None, tensorboard: bool = False
    ) -> None:
        self.path = folder / "metrics.csv"
        self.fields: list[str] | None = None
        if resume_step is not None and self.path.is_file():
            self.fields = truncate_csv_after(self.path, resume_step)
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:
                raise RWAEError(
                    "train.tensorboard needs the tensorboard package: pip install 'rwae[tensorboard]'"
                ) from e
            self.tb = SummaryWriter(str(folder / "tb"))

    def log(self, step: int, values: dict[str, float]) -> None:
        row = {
            "step": step,
            **{k: f"{v:.6g}" if isinstance(v, float) else v for k, v in values.items()},
        }
        if self.fields is None:
            self.fields = list(row)
            with open(self.path, "w", newline="") as f:
                csv.DictWriter(f, self.fields).writeheader()
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.fields, extrasaction="ignore").writerow(row)
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
