"""Arithmetic precision chosen by measuring it on the machine at hand (training and evaluation).

CPUs differ: bf16 autocast ran the training step 2.06x faster on an AMD EPYC, 1.67x on an Intel Xeon
with AMX, and slower than fp32 on an older Xeon. In `auto` mode the caller times a few real steps
in each mode (training: forward and backward on a copy of the model and a real batch; evaluation:
encode, decode and judge a real batch) and takes the faster. Measurements are cached, keyed by the
job, the CPU, the torch version, the thread count, the device, the model's config and the batch
shape, so a later run on the same machine skips them.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from rwae.errors import RWAEError
from rwae.provenance import cpu_features, cpu_model

MODES = ("fp32", "bf16")
WARMUP_STEPS, TIMED_STEPS = 2, 3


def autocast(mode: str, device: torch.device):
    """The context a forward pass runs in under `mode`."""
    if mode == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seconds_per_mode(step: Callable[[str], None], device: torch.device) -> dict[str, float | None]:
    """Seconds of `step(mode)` for each mode, None for a mode this machine cannot run (e.g. oneDNN
    has no bf16 LSTM on a CPU without AVX-512); the RNG streams are left as they were. The modes
    take turns (WARMUP_STEPS rounds, then TIMED_STEPS timed ones) and each keeps its fastest round:
    another process starting or stopping mid-measurement slows both modes alike (timed one after
    the other, a busy machine once made fp32 look faster than bf16 and the choice was cached)."""
    seconds: dict[str, float | None] = dict.fromkeys(MODES, float("inf"))
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for i in range(WARMUP_STEPS + TIMED_STEPS):
            for mode in MODES:
                if seconds[mode] is None:
                    continue
                start = time.perf_counter()
                try:
                    step(mode)
                except RuntimeError:
                    if mode == "fp32":
                        raise
                    seconds[mode] = None
                    continue
                if i >= WARMUP_STEPS:
                    seconds[mode] = min(seconds[mode], time.perf_counter() - start)
    return seconds


def require_runs(mode: str, step: Callable[[str], None], setting: str) -> None:
    """Run `step(mode)` once; a clear error if this machine cannot run `mode` at all."""
    try:
        step(mode)
    except RuntimeError as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RWAEError(
            f"{setting}: {mode} cannot run on this machine ({first_line}); use auto or fp32"
        ) from None


def training_step(model: nn.Module, x: torch.Tensor) -> Callable[[str], None]:
    """`step(mode)`: a training step (forward + backward) on x in `mode`, on a copy of `model`: its
    weights and buffers are left as they were."""
    probe = copy.deepcopy(model).train()

    def step(mode: str) -> None:
        with autocast(mode, x.device):
            out = probe(x)
        (out.loss + out.critic_loss).backward()
        probe.zero_grad(set_to_none=True)

    return step


def training_step_seconds(model: nn.Module, x: torch.Tensor) -> dict[str, float | None]:
    """Seconds of a training step in each mode, the fastest of its rounds (None where the mode
    cannot run)."""
    return seconds_per_mode(training_step(model, x), x.device)


def cache_key(job: str, model_config: dict, batch_shape: tuple[int, ...], device) -> dict:
    return {
        "job": job,
        "cpu": cpu_model(),
        "cpu_features": cpu_features(),
        "torch": str(torch.__version__),  # a str subclass that weights_only loading refuses
        "threads": torch.get_num_threads(),
        "device": str(device),
        "model": hashlib.sha256(json.dumps(model_config, sort_keys=True).encode()).hexdigest()[:16],
        "batch": list(batch_shape),
    }


def choose(key: dict, measure: Callable[[], dict[str, float]], cache_file: Path | None) -> dict:
    """{"mode", "seconds_per_step": {mode: s}, "speedup_over_fp32", "cannot_run", "cached", "key"}:
    the faster mode by `measure()` (seconds per step of each mode, None where a mode cannot run), or
    by the cached measurement for `key`."""
    entries = _read(cache_file)
    name = json.dumps(key, sort_keys=True)
    cached = name in entries
    seconds = entries[name] if cached else measure()
    if not cached and cache_file is not None:
        entries[name] = seconds
        _write(cache_file, entries)
    runnable = [m for m in MODES if seconds.get(m) is not None]
    mode = min(runnable, key=lambda m: seconds[m])
    return {
        "mode": mode,
        "seconds_per_step": {m: None if s is None else round(s, 4) for m, s in seconds.items()},
        "speedup_over_fp32": round(seconds["fp32"] / seconds[mode], 3),
        "cannot_run": [m for m in MODES if m not in runnable],
        "cached": cached,
        "key": key,
    }


def _read(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}  # a damaged cache is measured again and rewritten
    return entries if isinstance(entries, dict) else {}


def _write(path: Path, entries: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entries, indent=1) + "\n")
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written costs a measurement next time, nothing else
