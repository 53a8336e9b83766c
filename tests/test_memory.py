"""The allocator setting of `train.reuse_memory` (rwae.memory): what it changes, and that nothing
but an explicit call makes it — not importing rwae, not constructing a Trainer."""

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")

# Prints how many bytes glibc serves from mmap'd blocks while a 256 MB tensor is alive.
MEASURE = """
import ctypes, sys
import torch

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
SETUP
before = libc.mallinfo2().hblkhd
big = torch.ones(64, 1024, 1024)
print(libc.mallinfo2().hblkhd - before)
"""


def mmapped_bytes(setup: str) -> int:
    script = MEASURE.replace("SETUP", setup)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


def test_reuse_freed_memory_serves_large_blocks_from_the_heap():
    assert mmapped_bytes("") >= 200 * 2**20  # glibc's default: a fresh mmap per large block
    applied = "from rwae.memory import reuse_freed_memory; assert reuse_freed_memory()"
    assert mmapped_bytes(applied) < 2**20


def test_constructing_a_trainer_leaves_the_allocator_alone(tmp_path):
    build = f"""
import numpy as np
from rwae import RWAE, ModelConfig
from rwae.config import TrainConfig
from rwae.data import DatasetInfo, SequenceDataset
from rwae.training import Trainer
data = SequenceDataset(np.zeros((8, 4, 6), np.float32), {{}}, DatasetInfo("z", "features", 4, (6,)), layout="NTD")
model = RWAE(ModelConfig(frame_shape=[6], frame_dim=8, hidden_dim=8, static_dim=4, dynamic_dim=2))
Trainer(model, data, TrainConfig(steps=1, batch_size=4), {str(tmp_path / "run")!r}, progress=False)
"""
    assert mmapped_bytes(build) >= 200 * 2**20
