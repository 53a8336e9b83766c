"""Pictures of what a model does: swap grids, samples (PNG strips or animated GIF), and the
progress grid drawn during training (inputs, reconstructions, swaps, samples)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from rwae.models import RWAE
from rwae.pictures.grid import draw_grid

GAP = 6
FRAME_MS = 150  # each frame's time in an animated GIF (Pillow merges identical neighbours)


def _frames_uint8(x: torch.Tensor) -> np.ndarray:
    """(..., T, C, H, W) in [0, 1] -> uint8 (..., T, H, W, 3)."""
    if x.shape[-3] == 1:
        x = x.expand(*x.shape[:-3], 3, *x.shape[-2:])
    return (x.clamp(0, 1) * 255).round().byte().movedim(-3, -1).cpu().numpy()


@torch.no_grad()
def swap_cells(model: RWAE, x: torch.Tensor) -> torch.Tensor:
    """(N, N, T, ...): cell (i, j) = static code of x[i] with the dynamics (and action) of x[j]."""
    model.eval()
    post = model.encode(x)
    n = x.shape[0]
    static = post.static_mean.repeat_interleave(n, 0)  # i-major: (i, j) -> i * n + j
    dynamic = post.dynamic_mean.repeat(n, 1, 1)
    action = None if post.action is None else post.action.repeat(n, 1)
    return model.decode(static, dynamic, action).unflatten(0, (n, n))


def save_swap(model: RWAE, x: torch.Tensor, out: str | Path) -> Path:
    """Swap grid: the first row shows the dynamics sources, the first column the static sources.

    .png: each cell an animation strip (frames left to right); .gif: each cell animated.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cells = swap_cells(model, x).cpu()
    n, t = cells.shape[0], cells.shape[2]
    if not model.config.is_image:
        flat = cells.flatten(0, 1)
        captions = [f"static {i} + dynamics {j}" for i in range(n) for j in range(n)]
        draw_grid(flat, captions, "swap: rows keep the static code, columns the dynamics").save(
            out.with_suffix(".png")
        )
        return out.with_suffix(".png")
    frames = _frames_uint8(cells)  # (N, N, T, H, W, 3)
    sources = _frames_uint8(x.cpu())  # (N, T, H, W, 3)
    blank = np.full_like(sources[0], 255)
    table = [[blank, *sources]] + [
        [sources[i], *frames[i]] for i in range(n)
    ]  # (N+1) x (N+1) sequences
    h, w = frames.shape[3:5]
    if out.suffix.lower() == ".gif":
        images = []
        for step in range(frames.shape[2]):
            canvas = np.full(((n + 1) * (h + GAP), (n + 1) * (w + GAP), 3), 255, np.uint8)
            for r, row in enumerate(table):
                for c, seq in enumerate(row):
                    canvas[r * (h + GAP) : r * (h + GAP) + h, c * (w + GAP) : c * (w + GAP) + w] = (
                        seq[step]
                    )
            images.append(Image.fromarray(canvas))
        images[0].save(out, save_all=True, append_images=images[1:], duration=FRAME_MS, loop=0)
        return out
    strip_w = t * (w + 1)
    canvas = np.full(((n + 1) * (h + GAP), (n + 1) * (strip_w + GAP), 3), 255, np.uint8)
    for r, row in enumerate(table):
        for c, seq in enumerate(row):
            strip = np.concatenate(
                [np.pad(f, ((0, 0), (0, 1), (0, 0)), constant_values=255) for f in seq], axis=1
            )
            canvas[
                r * (h + GAP) : r * (h + GAP) + h,
                c * (strip_w + GAP) : c * (strip_w + GAP) + strip_w,
            ] = strip
    Image.fromarray(canvas).save(out)
    return out


def save_samples(samples: torch.Tensor, out: str | Path, columns: int = 4) -> Path:
    """Generated sequences: .png = one sequence per row (frames left to right); .gif = animated grid."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    samples = samples.cpu()
    if samples.dim() == 3 or out.suffix.lower() != ".gif":
        captions = [f"sample {i}" for i in range(len(samples))]
        draw_grid(samples, captions).save(out.with_suffix(".png"))
        return out.with_suffix(".png")
    frames = _frames_uint8(samples)  # (N, T, H, W, 3)
    n, t, h, w = frames.shape[:4]
    rows = -(-n // columns)
    images = []
    for step in range(t):
        canvas = np.full((rows * (h + GAP), columns * (w + GAP), 3), 255, np.uint8)
        for i in range(n):
            r, c = divmod(i, columns)
            canvas[r * (h + GAP) : r * (h + GAP) + h, c * (w + GAP) : c * (w + GAP) + w] = frames[
                i, step
            ]
        images.append(Image.fromarray(canvas))
    images[0].save(out, save_all=True, append_images=images[1:], duration=FRAME_MS, loop=0)
    return out


@torch.no_grad()
def progress_grid(model: RWAE, x: torch.Tensor, path: Path, seed: int = 0, title: str = "") -> Path:
    """Rows: inputs, reconstructions, swaps (static of row i with dynamics of row i+1), samples."""
    was_training = model.training
    model.eval()
    generator = torch.Generator(device=x.device).manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # never disturb the training RNG stream
        torch.manual_seed(seed)
        recon = model.reconstruct(x)
        swapped = model.swap(x, x.roll(-1, 0))
        samples = model.generate(x.shape[0], x.shape[1], generator)
    model.train(was_training)
    rows = torch.cat([x.float(), recon, swapped, samples]).cpu()
    n = x.shape[0]
    captions = [f"input {i}" for i in range(n)] + [f"recon {i}" for i in range(n)]
    captions += [f"static {i} + dyn {(i + 1) % n}" for i in range(n)] + [
        f"sample {i}" for i in range(n)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_grid(rows, captions, title).save(path)
    return path
