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


def append_csv_row(path: Path, row: dict[str, object]) -> None:
    """Append a row to a CSV, writing the header for a new file; a row with columns the file lacks
    (a run resumed by a newer version that logs more) rewrites the file with the wider header, the
    old rows blank in the new columns, so no value lands under another column's name."""
    fields = None
    if path.is_file():
        with open(path, newline="") as f:
            fields = next(csv.reader(f), None)
    if fields is not None and not set(row) <= set(fields):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        fields = [*fields, *(k for k in row if k not in fields)]
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fields)
            writer.writeheader()
            writer.writerows(rows)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fields or list(row))
        if fields is None:
            writer.writeheader()
        writer.writerow(row)


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
