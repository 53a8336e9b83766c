"""Progress pictures during training: inputs, reconstructions, swaps and samples in one grid."""

from __future__ import annotations

from pathlib import Path

import torch

from rwae.data.preview import draw_grid
from rwae.models import RWAE


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
