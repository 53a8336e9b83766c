"""Grids of sequences for a person to look at: one sequence per row (frames, or a spectrogram for
features), with a caption per row; `show_dataset` draws a dataset's items with their labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

# A few stops of matplotlib's "magma" colour map, interpolated (to show spectrograms without matplotlib).
_MAGMA = np.array(
    [
        [0, 0, 4],
        [28, 16, 68],
        [79, 18, 123],
        [129, 37, 129],
        [181, 54, 122],
        [229, 80, 100],
        [251, 135, 97],
        [254, 194, 135],
        [252, 253, 191],
    ],
    dtype=np.float32,
)


def colormap(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> uint8 RGB of shape values.shape + (3,)."""
    pos = np.clip(values, 0, 1) * (len(_MAGMA) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_MAGMA) - 2)
    frac = (pos - lo)[..., None]
    return (_MAGMA[lo] * (1 - frac) + _MAGMA[lo + 1] * frac).astype(np.uint8)


def image_rows(x: torch.Tensor, max_frames: int = 16, gap: int = 2) -> np.ndarray:
    """(N, T, C, H, W) in [0, 1] -> uint8 RGB grid (rows = sequences, columns = frames)."""
    x = x[:, :max_frames].clamp(0, 1)
    n, t, c, h, w = x.shape
    if c == 1:
        x = x.expand(n, t, 3, h, w)
    elif c != 3:
        x = x[:, :, :3] if c > 3 else torch.cat([x, x[:, :, :1]], dim=2)
    grid = np.full((n * (h + gap) - gap, t * (w + gap) - gap, 3), 255, np.uint8)
    frames = (x * 255).round().byte().permute(0, 1, 3, 4, 2).numpy()  # (N, T, H, W, 3)
    for i in range(n):
        for j in range(t):
            grid[i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = frames[
                i, j
            ]
    return grid


def feature_rows(x: torch.Tensor, scale: int = 3, gap: int = 4) -> np.ndarray:
    """(N, T, D) features -> spectrogram images stacked vertically (time right, band index up)."""
    n, t, _ = x.shape
    lo, hi = float(x.min()), float(x.max())
    norm = ((x - lo) / max(hi - lo, 1e-8)).numpy()
    rows = []
    for i in range(n):
        img = colormap(norm[i].T[::-1])  # (D, T, 3), low bands at the bottom
        rows.append(np.kron(img, np.ones((scale, scale, 1), np.uint8)))
        rows.append(np.full((gap, t * scale, 3), 255, np.uint8))
    return np.concatenate(rows[:-1])


def draw_grid(x: torch.Tensor, captions: list[str], title: str = "") -> Image.Image:
    """Sequences (N, T, C, H, W) or (N, T, D) with one caption per row, as a PIL image."""
    body = image_rows(x) if x.dim() == 5 else feature_rows(x)
    n = len(captions)
    font = ImageFont.load_default()
    label_w = max(8 + 6 * max((len(c) for c in captions), default=0), 40)
    top = 18 if title else 4
    canvas = Image.new("RGB", (label_w + body.shape[1] + 4, top + body.shape[0] + 4), "white")
    canvas.paste(Image.fromarray(body), (label_w, top))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((4, 3), title, fill="black", font=font)
    row_h = (body.shape[0] + (4 if x.dim() == 3 else 2)) / n
    for i, caption in enumerate(captions):
        draw.text((4, top + int(i * row_h + row_h / 2) - 5), caption, fill="black", font=font)
    return canvas


def show_dataset(dataset, out: str | Path, count: int = 8, seed: int = 0) -> Path:
    """Draw `count` random items of a dataset (with their scalar labels) into a PNG file."""
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(dataset), size=min(count, len(dataset)), replace=False))
    items = [dataset[int(i)] for i in picks]
    x = torch.stack([it["x"] for it in items])
    captions = [" ".join(f"{k}={v}" for k, v in it.items() if isinstance(v, int)) for it in items]
    info = getattr(dataset, "info", None)
    title = f"{info.name if info else 'data'}: {len(dataset)} sequences, x {tuple(x.shape[1:])}"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    draw_grid(x, captions, title).save(out)
    return out
