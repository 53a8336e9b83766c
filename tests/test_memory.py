import platform

import pytest
import torch

from rwae.memory import reuse_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_reuse_freed_memory_applies_on_glibc_and_keeps_tensors_working():
    assert reuse_freed_memory() is True
    assert reuse_freed_memory() is True  # once per process, idempotent
    big = torch.ones(64, 1024, 1024)  # 256 MB: would have been mmap'd
    del big
    again = torch.zeros(64, 1024, 1024)
    assert float(again.sum()) == 0.0
