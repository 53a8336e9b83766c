"""Throughput on this machine: training, data loading, generation and evaluation, in one run.

    python benchmarks/throughput.py [--quick] [--doc docs/performance.md]

Every measurement runs in its own fresh process (so its peak memory is its own) and reports the
median over repeats after warm-up:
- training step at the paper-sized architecture (configs/sprites_rwae_mmd.yaml, batch 64): plain fp32
  eager (contiguous tensors, no autocast: the way reference implementations run) and our default
  mode (the preset's train.* switches, whatever they are now); the ratio is the headline figure;
  the same two for the CPU preset (configs/sprites_cpu.yaml);
- the training DataLoader alone (sequences/s it delivers, built exactly as the Trainer builds it);
- `generate` and `swap` (sequences/s, CPU-preset architecture, batches of 64);
- the full `rwae eval` on the whole Sprites test split at R = 1 (CPU-preset architecture), as a user
  runs it, pictures included.
Weights are freshly initialised: speed does not depend on their values. Writes
benchmarks/results/<machine>.json and, with --doc, the block `throughput` of that Markdown file.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from rwae.provenance import cpu_features, cpu_model

REPO = Path(__file__).resolve().parents[1]
PAPER, CPU = "sprites_rwae_mmd", "sprites_cpu"
# Switches that make up "our default" and their plain-fp32 values (the reference way to run).
PLAIN_FP32 = ["train.precision=fp32", "train.channels_last=false", "train.reuse_memory=false"]
# The modes measured: plain fp32, our default (train.precision=auto: the faster precision, measured
# at start-up), the default with each precision forced, and with torch.compile.
MODES = {
    "fp32": PLAIN_FP32,
    "default": [],
    "default_fp32": ["train.precision=fp32"],
    "default_bf16": ["train.precision=bf16"],
    "default_compile": ["train.compile=true"],
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def system_time_share() -> float:
    """Share of this process's CPU time spent in the kernel (page faults show up here)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_stime / max(usage.ru_utime + usage.ru_stime, 1e-9)


def experiment(preset: str, sets: list[str]):
    from rwae.config import load_config

    return load_config(REPO / "configs" / f"{preset}.yaml", sets)


# ---------------------------------------------------------------------- workers (one per process)
def work_train(preset: str, mode: str, repeats: int) -> dict:
    """Median seconds of Trainer.train_step on a real batch: the user's exact step."""
    from rwae.data.dataset import collate
    from rwae.memory import reuse_freed_memory
    from rwae.training import trainer_from_config

    sets = ["train.judge_every=0", "train.sample_every=0"]
    config = experiment(preset, sets + MODES[mode])
    if config.train.reuse_memory:  # as `rwae train` does
        reuse_freed_memory()
    with tempfile.TemporaryDirectory() as out:
        trainer = trainer_from_config(config, out, progress=False)
        batch = config.train.batch_size
        x = collate([trainer.train_set[i] for i in range(batch)])["x"]
        times, warmup = [], []
        for i in range(repeats + 2):  # two warm-up steps (the first compiles, with train.compile)
            start = time.perf_counter()
            trainer.train_step(x)
            trainer.step += 1
            (times if i >= 2 else warmup).append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {
        "seq_per_s": batch / seconds,
        "step_seconds": seconds,
        "first_step_seconds": warmup[0],
        "batch_size": batch,
        "switches": {
            **{k: getattr(config.train, k) for k in ("precision", "channels_last", "reuse_memory")},
            "compile": config.train.compile,
            "precision_chosen": trainer.precision["mode"],
        },
        "peak_rss_mb": peak_rss_mb(),
        "system_time_share": system_time_share(),
    }


def work_loader(repeats: int) -> dict:
    """Sequences/s of the Trainer's DataLoader over the Sprites training split (paper batch size)."""
    from torch.utils.data import DataLoader

    from rwae import data
    from rwae.data.dataset import collate
    from rwae.training.sampler import ResumableBatchSampler

    config = experiment(PAPER, [])
    train = data.load("sprites", "train")
    sampler = ResumableBatchSampler(len(train), config.train.batch_size, seed=0)
    loader = DataLoader(
        train, batch_sampler=sampler, collate_fn=collate, num_workers=config.data.num_workers
    )
    rates = []

    def endless():  # epoch after epoch, as the Trainer iterates
        while True:
            yield from loader

    batches = endless()
    next(batches)  # warm-up
    for _ in range(repeats):
        start, seen = time.perf_counter(), 0
        for _ in range(20):
            seen += next(batches)["x"].shape[0]
        rates.append(seen / (time.perf_counter() - start))
    return {"seq_per_s": statistics.median(rates), "num_workers": config.data.num_workers}


@torch.inference_mode()
def work_generation(repeats: int) -> dict:
    from rwae import RWAE, data

    model = RWAE(experiment(CPU, []).model).eval().set_channels_last(True)
    test = data.load("sprites", "test")
    x = test.batch(list(range(64)))["x"]
    g = torch.Generator().manual_seed(0)
    jobs = {
        "generate": lambda: model.generate(64, 8, generator=g),
        "swap": lambda: model.swap(x, x.roll(1, 0)),
    }
    result = {}
    for name, job in jobs.items():
        job()  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            job()
            times.append(time.perf_counter() - start)
        result[f"{name}_seq_per_s"] = 64 / statistics.median(times)
    return result


def work_eval() -> dict:
    """Wall time of `rwae eval MODEL --repeats 1` on the whole test split (a fresh process)."""
    from rwae import RWAE

    with tempfile.TemporaryDirectory() as tmp:
        model = RWAE(experiment(CPU, []).model)
        model.save_pretrained(Path(tmp) / "model", training_data={"name": "sprites"})
        cmd = ["rwae", "eval", str(Path(tmp) / "model"), "--repeats", "1", "--out", f"{tmp}/eval"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        seconds = time.perf_counter() - start
        sequences = json.loads((Path(tmp) / "eval" / "results.json").read_text())["evaluation"][
            "num_sequences"
        ]
    return {"seconds": seconds, "sequences": sequences}


def work_roofline(repeats: int) -> dict:
    """What this CPU can do at best: a large GEMM in fp32 and in bf16 (all threads), and the
    floating-point operations of one paper-sized training step (counted by torch)."""
    from torch.utils.flop_counter import FlopCounterMode

    from rwae import RWAE

    gemm = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
        a @ b  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
        gemm[f"gemm_gflop_per_s_{name}"] = 2 * 2048**3 / min(times) / 1e9
    config = experiment(PAPER, [])
    model = RWAE(config.model)
    x = torch.rand(config.train.batch_size, 8, 3, 64, 64)
    counter = FlopCounterMode(display=False)
    with counter:
        model(x).loss.backward()
    return {**gemm, "paper_step_gflop": counter.get_total_flops() / 1e9}


def work_profile() -> dict:
    """Where the paper-sized default step spends its time: torch.profiler's self CPU time per
    operator, grouped into kinds (three steps after two warm-up steps, in the precision the
    default chooses on this CPU)."""
    from torch.profiler import ProfilerActivity, profile

    from rwae.memory import reuse_freed_memory
    from rwae.training import trainer_from_config

    config = experiment(PAPER, ["train.judge_every=0", "train.sample_every=0"])
    reuse_freed_memory()
    with tempfile.TemporaryDirectory() as out:
        trainer = trainer_from_config(config, out, progress=False)
        x = trainer.train_set.batch(list(range(config.train.batch_size)))["x"]
        for _ in range(2):
            trainer.train_step(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(3):
                trainer.train_step(x)
    kinds = {
        "convolution": ("conv", "mkldnn_convolution"),
        "lstm / rnn": ("lstm", "rnn", "_thnn_fused", "gru"),
        "matrix multiply": ("addmm", "mm", "bmm", "matmul", "linear"),
        "optimizer": ("adam", "_foreach", "lerp", "addcdiv", "addcmul"),
        "batch norm": ("batch_norm", "native_batch_norm"),
        "copies and casts": ("copy_", "to", "_to_copy", "contiguous", "clone", "cat", "stack"),
    }
    totals: dict[str, float] = {}
    for event in prof.key_averages():
        name = event.key.lower().removeprefix("aten::")
        kind = next(
            (k for k, keys in kinds.items() if any(w in name for w in keys)), "pointwise and other"
        )
        totals[kind] = totals.get(kind, 0.0) + event.self_cpu_time_total
    whole = sum(totals.values())
    return {
        "precision": trainer.precision["mode"],
        "self_cpu_share": {k: v / whole for k, v in sorted(totals.items(), key=lambda kv: -kv[1])},
    }


WORKERS = {
    "profile": lambda a: work_profile(),
    "roofline": lambda a: work_roofline(a.repeats),
    "train": lambda a: work_train(a.preset, a.mode, a.repeats),
    "loader": lambda a: work_loader(a.repeats),
    "generation": lambda a: work_generation(a.repeats),
    "eval": lambda a: work_eval(),
}


def run_worker(name: str, *args: str, may_fail: bool = False) -> dict | None:
    """Run one measurement in a fresh Python process; it prints one JSON line. With `may_fail`
    (a mode this CPU may not run, e.g. bf16 without hardware support) a failure gives None."""
    cmd = [sys.executable, __file__, "--worker", name, *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        if not may_fail:
            raise SystemExit(f"benchmark worker {name} {' '.join(args)} failed: {last}")
        print(name, *args, f"cannot run here: {last}", flush=True)
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(name, *args, json.dumps(result), flush=True)
    return result


# ---------------------------------------------------------------------- the report
def machine_name() -> str:
    """e.g. amd-epyc-2-threads; a CPU without avx512f gets its widest flag in the name
    (amd-epyc-avx2-2-threads): the same model name hides CPUs that differ in bf16."""
    features = cpu_features()
    widest = "" if "avx512f" in features else (features[-1] if features else "")
    cores = torch.get_num_threads()
    slug = re.sub(r"[^a-z0-9]+", "-", f"{cpu_model()} {widest} {cores} threads".lower()).strip("-")
    return re.sub(r"-(r|tm)-", "-", slug)


def rate(t: dict, preset: str, mode: str) -> str:
    """'12.34 seq/s', or why there is no figure."""
    if t[preset][mode] is None:
        return "cannot run on this CPU"
    return f"{t[preset][mode]['seq_per_s']:.2f} seq/s"


def ratio(t: dict, preset: str, mode: str) -> str:
    """The mode's rate over plain fp32's, e.g. '1.67×'."""
    if t[preset][mode] is None:
        return ""
    return f"{t[preset][mode]['seq_per_s'] / t[preset]['fp32']['seq_per_s']:.2f}×"


def markdown(r: dict) -> str:
    t = r["train"]
    rows = [
        (
            "Training step, paper size (batch 64): plain fp32 eager",
            f"{t[PAPER]['fp32']['seq_per_s']:.2f} seq/s",
            "1.00×",
        ),
        (
            "Training step, paper size (batch 64): default",
            f"{t[PAPER]['default']['seq_per_s']:.2f} seq/s",
            f"**{r['train_speedup_vs_fp32']:.2f}×**",
        ),
        (
            f"Training step, CPU preset (batch {t[CPU]['fp32']['batch_size']}): plain fp32 eager",
            f"{t[CPU]['fp32']['seq_per_s']:.2f} seq/s",
            "1.00×",
        ),
        (
            f"Training step, CPU preset (batch {t[CPU]['default']['batch_size']}): default",
            f"{t[CPU]['default']['seq_per_s']:.2f} seq/s",
            f"{r['cpu_preset_speedup_vs_fp32']:.2f}×",
        ),
        (
            "Training step, paper size: default, precision forced to fp32",
            f"{t[PAPER]['default_fp32']['seq_per_s']:.2f} seq/s",
            f"{t[PAPER]['default_fp32']['seq_per_s'] / t[PAPER]['fp32']['seq_per_s']:.2f}×",
        ),
        (
            "Training step, paper size: default + bf16 autocast",
            rate(t, PAPER, "default_bf16"),
            ratio(t, PAPER, "default_bf16"),
        ),
        (
            "Training step, CPU preset: default + bf16 autocast",
            rate(t, CPU, "default_bf16"),
            ratio(t, CPU, "default_bf16"),
        ),
        (
            "Training step, CPU preset: default + torch.compile",
            f"{t[CPU]['default_compile']['seq_per_s']:.2f} seq/s "
            f"(first step {t[CPU]['default_compile']['first_step_seconds']:.0f} s)",
            f"{t[CPU]['default_compile']['seq_per_s'] / t[CPU]['fp32']['seq_per_s']:.2f}×",
        ),
        (
            "Data loader alone",
            f"{r['loader_seq_per_s']:.0f} seq/s",
            f"{r['loader_vs_train_default']:.0f}× the default step",
        ),
        ("`generate` (CPU preset)", f"{r['generate_seq_per_s']:.0f} seq/s", ""),
        ("`swap` (CPU preset)", f"{r['swap_seq_per_s']:.0f} seq/s", ""),
        (
            "`rwae eval`, whole Sprites test split, R = 1",
            f"{r['eval_sprites_test_seconds']:.1f} s",
            "",
        ),
        (
            "Peak memory of training, paper size, batch 64 (default / fp32)",
            f"{r['train_peak_rss_mb']:.0f} / {t[PAPER]['fp32']['peak_rss_mb']:.0f} MB",
            "",
        ),
    ]
    rows.append(
        (
            "Arithmetic rate of the paper-sized step (plain fp32 / default)",
            f"{r['train_gflop_per_s_fp32']:.0f} / {r['train_gflop_per_s_default']:.0f} GFLOP/s",
            f"default: {r['default_share_of_bf16_gemm']:.0%} of the bf16 GEMM rate",
        )
    )
    rows.append(
        (
            "Large GEMM on this CPU, fp32 / bf16 (the ceiling)",
            f"{r['gemm_gflop_per_s_fp32']:.0f} / {r['gemm_gflop_per_s_bf16']:.0f} GFLOP/s",
            f"bf16 {r['gemm_gflop_per_s_bf16'] / r['gemm_gflop_per_s_fp32']:.2f}× fp32",
        )
    )
    rows.append(
        (
            "Kernel (system) share of CPU time, paper size (fp32 / default)",
            f"{t[PAPER]['fp32']['system_time_share']:.0%} / "
            f"{t[PAPER]['default']['system_time_share']:.0%}",
            "",
        )
    )
    lines = ["| measurement | value | ratio |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    shares = r["profile"]["self_cpu_share"]
    lines.append(
        f"\nWhere the paper-sized default step ({r['profile'].get('precision', 'bf16')}) spends its "
        "CPU time (torch.profiler, self time by kind of operator): "
        + ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
        + "."
    )
    switches = ", ".join(f"{k}={v}" for k, v in t[PAPER]["default"]["switches"].items())
    lines.append(
        f"\nMedians over {r['repeats']} repeats after warm-up, {r['threads']} threads, "
        f"{r['machine']}; default mode: {switches}. Produced by `{r['command']}` "
        f"(benchmarks/results/{r['machine']}.json)."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats, same keys")
    parser.add_argument(
        "--doc", default=None, help="also write the throughput block of this Markdown file"
    )
    parser.add_argument("--out", default=None, help="default: benchmarks/results/<machine>.json")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--preset", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return
    repeats = args.repeats or (3 if args.quick else 7)
    rep = ["--repeats", str(repeats)]
    measured = {PAPER: ("fp32", "default", "default_fp32", "default_bf16"), CPU: tuple(MODES)}
    train = {
        preset: {
            mode: run_worker(
                "train", "--preset", preset, "--mode", mode, *rep, may_fail=mode.endswith("bf16")
            )
            for mode in modes
        }
        for preset, modes in measured.items()
    }
    loader = run_worker("loader", *rep)
    generation = run_worker("generation", *rep)
    evaluation = run_worker("eval")
    roofline = run_worker("roofline", *rep)
    profiled = run_worker("profile")
    step_gflop = roofline["paper_step_gflop"]
    from rwae.provenance import provenance

    result = {
        "machine": machine_name(),
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "train_seq_per_s_fp32": train[PAPER]["fp32"]["seq_per_s"],
        "train_seq_per_s_default": train[PAPER]["default"]["seq_per_s"],
        "train_speedup_vs_fp32": train[PAPER]["default"]["seq_per_s"]
        / train[PAPER]["fp32"]["seq_per_s"],
        "cpu_preset_seq_per_s_default": train[CPU]["default"]["seq_per_s"],
        "cpu_preset_speedup_vs_fp32": train[CPU]["default"]["seq_per_s"]
        / train[CPU]["fp32"]["seq_per_s"],
        "loader_seq_per_s": loader["seq_per_s"],
        "loader_vs_train_default": loader["seq_per_s"] / train[PAPER]["default"]["seq_per_s"],
        "generate_seq_per_s": generation["generate_seq_per_s"],
        "swap_seq_per_s": generation["swap_seq_per_s"],
        "eval_sprites_test_seconds": evaluation["seconds"],
        "eval_sequences": evaluation["sequences"],
        "train_peak_rss_mb": train[PAPER]["default"]["peak_rss_mb"],
        "paper_step_gflop": step_gflop,
        "train_gflop_per_s_fp32": step_gflop / train[PAPER]["fp32"]["step_seconds"],
        "train_gflop_per_s_default": step_gflop / train[PAPER]["default"]["step_seconds"],
        "train_gflop_per_s_bf16": step_gflop / train[PAPER]["default_bf16"]["step_seconds"]
        if train[PAPER]["default_bf16"]
        else None,
        "default_share_of_bf16_gemm": step_gflop
        / train[PAPER]["default"]["step_seconds"]
        / roofline["gemm_gflop_per_s_bf16"],
        "profile": profiled,
        **{k: v for k, v in roofline.items() if k.startswith("gemm_")},
        "train": train,
        "loader": loader,
        "python": platform.python_version(),
        "command": " ".join(["python", "benchmarks/throughput.py", *sys.argv[1:]]),
        "provenance": provenance(REPO),
    }
    out = Path(args.out or REPO / "benchmarks" / "results" / f"{result['machine']}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    if args.doc:
        sys.path.insert(0, str(REPO / "benchmarks"))
        from markdown import replace_block

        replace_block(Path(args.doc), "throughput", markdown(result))


if __name__ == "__main__":
    main()
