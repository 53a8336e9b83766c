"""Line plots without matplotlib: training curves and the studies' judge curves."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

COLOURS = [
    (200, 50, 50),
    (40, 90, 200),
    (40, 150, 60),
    (220, 140, 20),
    (130, 60, 170),
    (20, 160, 170),
    (120, 120, 120),
    (230, 90, 160),
]


def _markers(draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], index: int) -> None:
    """Lines past the palette's length repeat its colours; squares (then circles) tell them apart."""
    cycle = index // len(COLOURS)
    if cycle == 0:
        return
    shape = draw.rectangle if cycle == 1 else draw.ellipse
    for x, y in points:
        shape([x - 3, y - 3, x + 3, y + 3], outline=COLOURS[index % len(COLOURS)], width=1)


def plot_lines(
    panels: dict[str, dict[str, tuple[list[float], list[float]]]],
    out: str | Path,
    y_range: tuple[float, float] | None = None,
) -> Path:
    """Line charts drawn with Pillow: one panel per title, one coloured line per label (with a legend).
    y_range fixes the vertical axis (e.g. (0, 1) for accuracies); by default it fits the data."""
    panel_w, panel_h, pad = 320, 160, 30
    labels = sorted({label for lines in panels.values() for label in lines})
    legend_h = 14 * len(labels) if len(labels) > 1 else 0
    canvas = Image.new(
        "RGB", (len(panels) * (panel_w + pad) + pad, panel_h + 2 * pad + legend_h), "white"
    )
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default()
    for k, (title, lines) in enumerate(panels.items()):
        points = [
            (x, y)
            for xs, ys in lines.values()
            for x, y in zip(xs, ys, strict=True)
            if np.isfinite(y)
        ]
        if len(points) < 2:
            continue
        x0, y0 = pad + k * (panel_w + pad), pad
        xs_all, ys_all = zip(*points, strict=True)
        x_lo, x_hi = min(xs_all), max(xs_all)
        lo, hi = y_range or (min(ys_all), max(ys_all))
        span, x_span = (hi - lo) or 1.0, (x_hi - x_lo) or 1.0
        draw.rectangle([x0, y0, x0 + panel_w, y0 + panel_h], outline="gray")
        for label, (xs, ys) in lines.items():
            pts = [
                (x0 + (x - x_lo) / x_span * panel_w, y0 + panel_h - (y - lo) / span * panel_h)
                for x, y in zip(xs, ys, strict=True)
                if np.isfinite(y)
            ]
            if len(pts) >= 2:
                i = labels.index(label)
                draw.line(pts, fill=COLOURS[i % len(COLOURS)], width=2)
                _markers(draw, pts, i)
        draw.text((x0, 8), title, fill="black", font=font)
        draw.text((x0 + 2, y0 + 2), f"{hi:.4g}", fill="black", font=font)
        draw.text((x0 + 2, y0 + panel_h - 12), f"{lo:.4g}", fill="black", font=font)
        draw.text(
            (x0 + panel_w - 70, y0 + panel_h + 4), f"step {x_hi:.0f}", fill="black", font=font
        )
    if legend_h:
        for i, label in enumerate(labels):
            y = panel_h + 2 * pad + 14 * i - 4
            draw.line([(pad, y + 6), (pad + 20, y + 6)], fill=COLOURS[i % len(COLOURS)], width=3)
            _markers(draw, [(pad + 10, y + 6)], i)
            draw.text((pad + 26, y), label, fill="black", font=font)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)
    return Path(out)


def plot_curves(
    metrics_csv: str | Path, out: str | Path, columns: list[str] | None = None
) -> Path | None:
    """One panel per column of a training CSV (metrics.csv or judge.csv)."""
    with open(metrics_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) < 2:
        return None
    names = columns or [k for k in rows[0] if k not in {"step", "epoch", "lr", "seq_per_s"}]
    steps = [float(r["step"]) for r in rows]

    def value(row: dict, name: str) -> float:
        return float(row[name]) if row.get(name) not in (None, "") else float("nan")

    return plot_lines(
        {name: {name: (steps, [value(r, name) for r in rows])} for name in names}, out
    )
