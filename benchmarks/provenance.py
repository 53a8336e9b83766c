"""What every results file records about how and where it was produced."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import rwae


def git_commit(repo: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def provenance(repo: Path) -> dict:
    return {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "rwae_version": rwae.__version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "machine": {
            "processor": platform.machine(),
            "cpu_count": torch.get_num_threads(),
            "system": platform.system(),
        },
        "git_commit": git_commit(repo),
    }


def replace_block(path: Path, name: str, text: str) -> None:
    """Replace the lines between <!-- name:start --> and <!-- name:end --> in a Markdown file."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    content = path.read_text()
    head, found, rest = content.partition(start)
    if not found or end not in rest:
        raise SystemExit(f"{path}: markers {start} ... {end} not found")
    path.write_text(head + start + "\n" + text.rstrip() + "\n" + end + rest.partition(end)[2])
