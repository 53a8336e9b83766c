"""Run under torchrun by tests/test_distributed.py: the global MMD over all ranks' codes equals the
single-process MMD of the whole batch, value and gradient."""

import sys

import torch
import torch.distributed as dist

from rwae.losses import mmd
from rwae.training.distributed import gather_along_batch, setup, teardown


def main() -> None:
    ctx = setup("cpu")
    g = torch.Generator().manual_seed(0)
    x_all, y_all = torch.randn(16, 5, generator=g), torch.randn(16, 5, generator=g) + 0.5
    per_rank = 16 // ctx.world_size
    own = slice(ctx.rank * per_rank, (ctx.rank + 1) * per_rank)
    x = x_all[own].clone().requires_grad_(True)
    value = mmd(gather_along_batch(x), gather_along_batch(y_all[own]))
    value.backward()
    reference_x = x_all.clone().requires_grad_(True)
    reference = mmd(reference_x, y_all)
    reference.backward()
    ok_value = torch.allclose(value, reference, atol=1e-6)
    # every rank computes the same global loss, so the gathered gradient is world_size x the full one;
    # DDP's averaging over ranks then gives exactly the full-batch gradient
    ok_grad = torch.allclose(x.grad, ctx.world_size * reference_x.grad[own], atol=1e-6)
    flags = torch.tensor([float(ok_value and ok_grad)])
    dist.all_reduce(flags, op=dist.ReduceOp.MIN)
    teardown(ctx)
    sys.exit(0 if flags.item() == 1.0 else 1)


if __name__ == "__main__":
    main()
