"""Deterministic batches: epoch e is a permutation drawn from (seed, e); global batch k is
perm[k*B:(k+1)*B], and rank r takes every world-th element of it. Resumable at any batch."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from rwae.errors import RWAEError


class ResumableBatchSampler:
    def __init__(
        self, num_items: int, global_batch: int, *, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if global_batch % world_size:
            raise RWAEError(
                f"train.batch_size {global_batch} must be divisible by the number of processes {world_size}"
            )
        if num_items < global_batch:
            raise RWAEError(
                f"the training set has {num_items} sequences, fewer than train.batch_size={global_batch}"
            )
        self.num_items, self.global_batch, self.seed = num_items, global_batch, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start_batch = 0, 0

    @property
    def batches_per_epoch(self) -> int:
        return self.num_items // self.global_batch  # the last partial batch is dropped

    def set_position(self, epoch: int, batch: int) -> None:
        self.epoch, self.start_batch = epoch, batch

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start_batch

    def __iter__(self) -> Iterator[list[int]]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        perm = torch.randperm(self.num_items, generator=g)
        for k in range(self.start_batch, self.batches_per_epoch):
            batch = perm[k * self.global_batch : (k + 1) * self.global_batch]
            yield batch[self.rank :: self.world_size].tolist()
