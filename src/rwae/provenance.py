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
            "threads": torch.get_num_threads(),
            "system": platform.system(),
        },
        "git_commit": git_commit(folder),
    }
