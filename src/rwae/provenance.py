"""What every results file records: the command, versions, machine and git commit."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from rwae._version import __version__


def git_commit(folder: str | os.PathLike = ".") -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def cpu_model() -> str:
    """The processor's model name (Linux: /proc/cpuinfo), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_features() -> list[str]:
    """The instruction-set flags that decide which precision is fast (Linux: /proc/cpuinfo). CPUs
    behind a hypervisor may share a model name ("AMD EPYC") and differ here: bf16 runs at full rate
    with avx512_bf16 or amx_bf16, and oneDNN has no bf16 LSTM without avx512f."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                return [flag for flag in SPEED_FLAGS if flag in present]
    except OSError:
        pass
    return []


def command_line() -> str:
    argv0 = Path(sys.argv[0]).name if sys.argv else "python"
    return " ".join([argv0, *sys.argv[1:]])


def provenance(folder: str | os.PathLike = ".") -> dict:
    return {
        "command": command_line(),
        "rwae_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "machine": {
            "processor": platform.machine(),
            "cpu": cpu_model(),
            "cpu_features": cpu_features(),
            "threads": torch.get_num_threads(),
            "system": platform.system(),
        },
        "git_commit": git_commit(folder),
    }
