"""The training loop: a Trainer takes a model and datasets and trains in one process or in each
process launched by torchrun, resumable bit-exactly. `rwae.training.run.train(config)` (the CLI's
path) builds those objects from a config.

Run directory:
  config.yaml            the resolved experiment config
  checkpoints/last.pt    resumable state (plus step_*.pt every train.checkpoint_every steps)
  metrics.csv            loss terms, learning rate and sequences/s every train.log_every steps
  samples/step_*.png     inputs, reconstructions, swaps and samples every train.sample_every steps
  judge.csv              the judge's quick check on the validation data every train.judge_every steps
  model/                 the final model (save_pretrained)
  train_summary.json     steps, time, final losses, config and provenance
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from rwae import precision
from rwae._version import __version__
from rwae.config import DataConfig, ExperimentConfig, OptimizerConfig, TrainConfig
from rwae.data.dataset import collate, fetch
from rwae.data.paths import cache_dir
from rwae.dynamic_start import fit_in_place
from rwae.errors import RWAEError
from rwae.evaluation.judge import Judge
from rwae.models import RWAE
from rwae.models.pretrained import added_buffers
from rwae.pictures import progress_grid
from rwae.provenance import provenance
from rwae.training import checkpoint
from rwae.training.distributed import DistContext, gather_along_batch
from rwae.training.metrics_log import MetricsLogger
from rwae.training.quick_check import QuickCheck
from rwae.training.run_lock import RunLock
from rwae.training.sampler import ResumableBatchSampler

CHECKPOINT_FORMAT = 1


class TrainingInterrupted(RWAEError):
    """SIGINT/SIGTERM arrived; a checkpoint was written first."""


class TrainingDiverged(RWAEError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def learning_rate_factor(step: int, total: int, schedule: str, warmup: int) -> float:
    """Multiplier of the base learning rate at `step` (linear warm-up, then the schedule)."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    if schedule == "linear":
        return max(0.0, 1 - progress)
    return 1.0


def _adam(params, cfg: OptimizerConfig) -> torch.optim.Adam:
    return torch.optim.Adam(
        params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay
    )


class Trainer:
    """Trains `model` on `train_data` as `config` says, writing the run folder `out`.

    val_data: the validation split: the progress pictures and, with a `judge` and
    config.judge_every, the judge's quick check of both directions read it.
    data_config: how the data was loaded, recorded in config.yaml and in the saved model's
    config.json (so that `rwae eval` finds the matching test split); None for data built in Python.
    ctx: the process group (rwae.training.distributed.setup()); default: one process.
    """

    def __init__(
        self,
        model: RWAE,
        train_data: Dataset,
        config: TrainConfig,
        out: str | Path,
        *,
        val_data: Dataset | None = None,
        judge: Judge | None = None,
        data_config: DataConfig | None = None,
        ctx: DistContext | None = None,
        resume: bool = False,
        progress: bool = True,
    ) -> None:
        self.ctx = ctx = ctx or DistContext()
        self.out, self.progress, self.train_set, self.val_set = (
            Path(out),
            progress,
            train_data,
            val_data,
        )
        self.model = model.to(ctx.device).train()
        self.config = ExperimentConfig(model.config, data_config or _describe(train_data), config)
        tc = config
        self.last_path = self.out / "checkpoints" / "last.pt"
        self._check_data(train_data)
        self.sampler = ResumableBatchSampler(
            len(train_data),
            tc.batch_size,
            seed=tc.seed,
            rank=ctx.rank,
            world_size=ctx.world_size,
        )
        # a folder that exists may be another run's: lock it before reading or refusing anything
        self.lock = self._lock_run_folder() if ctx.any(ctx.is_main and self.out.is_dir()) else None
        try:
            state = self._checkpoint_to_resume(resume)
        except BaseException:
            self.release()
            raise
        if tc.channels_last and ctx.device.type in ("cpu", "cuda"):
            self.model.set_channels_last(True)
        self.optimizer = _adam(self.model.generator_parameters(), tc.optimizer)
        critic = self.model.critic_parameters()
        self.critic_optimizer = _adam(critic, tc.critic_optimizer) if critic else None
        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        self.window: dict = {"values": {}}  # the losses since the last metrics row
        # training cost over every session of the run (restored on resume): wall seconds and CPU
        # seconds of all processes (process time counts every thread)
        # (check_cpu_seconds: the part spent on quick checks and pictures, not on training)
        self.cost_before = {"wall_seconds": 0.0, "cpu_seconds": 0.0, "check_cpu_seconds": 0.0}
        self.session_clock = (time.perf_counter(), time.process_time())
        self.check_cpu_session = 0.0
        if state is not None:
            self._restore(state)
        else:
            torch.manual_seed(tc.seed + 1 + ctx.rank)  # training noise differs per rank
        try:
            self.precision = self._choose_precision(state)
        except BaseException:
            self.release()
            raise
        if ctx.enabled:
            unused = self._parameters_without_gradient()
            self.ddp = DistributedDataParallel(
                self.model,
                device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
                find_unused_parameters=bool(unused),
            )
            if unused and ctx.is_main:
                print(
                    f"rwae: {len(unused)} parameters get no gradient in this configuration "
                    f"({', '.join(unused[:3])}{', ...' if len(unused) > 3 else ''}); DDP skips them",
                    file=sys.stderr,
                )
            if tc.global_mmd:
                self.model.objective.gather_codes = gather_along_batch
        else:
            self.ddp = self.model
        if tc.compile:  # the training forward through torch.compile (the saved model is unchanged)
            self.ddp = torch.compile(self.ddp)
        self.loader = DataLoader(
            train_data,
            batch_sampler=self.sampler,
            collate_fn=collate,
            num_workers=self.config.data.num_workers,
            # its own generator: a new iterator (each epoch, or on resume) must not draw from the global RNG
            generator=torch.Generator().manual_seed(tc.seed + ctx.rank),
        )
        self.preview_x = None
        if self.lock is None:  # a new folder: locked before anything is written into it
            self.lock = self._lock_run_folder()
        if ctx.is_main:
            checkpoint.remove_orphans(self.last_path.parent)
            self.config.to_yaml(self.out / "config.yaml")
            self.quick_check = QuickCheck(
                val_data if tc.judge_every else None, judge, self.out, tc.judge_sequences
            )
            if resume:
                self.quick_check.truncate_after(self.step)
            self.metrics = MetricsLogger(
                self.out, resume_step=self.step if resume else None, tensorboard=tc.tensorboard
            )
        self.stop_requested = False

    # ------------------------------------------------------------------ setup helpers
    def _check_data(self, dataset) -> None:
        info = getattr(dataset, "info", None)
        if info is None:
            return
        expected = list(self.config.model.frame_shape)
        if list(info.frame_shape) != expected:
            raise RWAEError(
                f"data {self.config.data.name!r} has frames of shape {list(info.frame_shape)} but model.frame_shape is {expected}; "
                f"set --set model.frame_shape={list(info.frame_shape)}"
            )

    def _parameters_without_gradient(self) -> list[str]:
        """Names of the parameters one training step leaves without a gradient (DDP must be told).
        Measured on a few training sequences; weights, buffers and the RNG are left as they were."""
        buffers = {k: v.clone() for k, v in self.model.named_buffers()}
        x = fetch(self.train_set, list(range(min(4, len(self.train_set)))))["x"]
        with torch.random.fork_rng(devices=[]):
            out = self.model(x.to(self.ctx.device))
            (out.loss + out.critic_loss).backward()
        unused = [n for n, p in self.model.named_parameters() if p.requires_grad and p.grad is None]
        self.model.zero_grad(set_to_none=True)
        with torch.no_grad():
            for k, v in self.model.named_buffers():
                v.copy_(buffers[k])
        return unused

    def _checkpoint_to_resume(self, resume: bool) -> dict | None:
        """The state to resume from, or None for a new run; refuses to start over an old run."""
        if not resume:
            if self.last_path.exists():
                raise RWAEError(
                    f"{self.out} already holds a training run; pass --resume to continue it or "
                    "choose another --out"
                )
            return None
        state = checkpoint.load(self.last_path)
        if state.get("format_version") != CHECKPOINT_FORMAT:
            raise RWAEError(
                f"{self.last_path}: checkpoint format {state.get('format_version')}, "
                f"expected {CHECKPOINT_FORMAT}"
            )
        return state

    def _lock_run_folder(self) -> RunLock | None:
        """Rank 0 locks the run folder for the run's life; every rank learns if it was refused."""
        lock, refused = None, None
        if self.ctx.is_main:
            try:
                lock = RunLock(self.out)
            except RWAEError as e:
                refused = e
        if self.ctx.any(refused is not None):
            raise refused or RWAEError(f"{self.out}: rank 0 could not lock the run folder")
        return lock

    def release(self) -> None:
        """Let go of the run folder (fit() does this when it returns or raises)."""
        if self.lock is not None:
            self.lock.release()

    def _restore(self, state: dict) -> None:
        weights = state["model"]  # older checkpoints may lack a buffer added since
        expected = {k: tuple(v.shape) for k, v in self.model.state_dict().items()}
        self.model.load_state_dict({**weights, **added_buffers(weights, expected)})
        self.optimizer.load_state_dict(state["optimizer"])
        if self.critic_optimizer is not None:
            self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.step, self.epoch, self.batch_in_epoch = (
            state["step"],
            state["epoch"],
            state["batch_in_epoch"],
        )
        self.cost_before.update(state.get("cost", {}))  # older checkpoints: none
        rng = state["rng"]
        if len(rng) == self.ctx.world_size:
            checkpoint.set_rng_state(rng[self.ctx.rank])
        else:  # a different number of processes: the run continues, but not bit-exactly
            torch.manual_seed(self.config.train.seed + 1 + self.ctx.rank + self.step)
            if self.ctx.is_main:
                print(
                    f"rwae: warning: {self.last_path} was written by {len(rng)} process(es), this "
                    f"run has {self.ctx.world_size}: it continues, but not bit-exactly as the "
                    "uninterrupted run would have",
                    file=sys.stderr,
                )
        self.window = state.get("log_window", {"values": {}})

    def cost(self) -> dict[str, float]:
        """Wall and CPU seconds spent on this run so far, all sessions and processes; of the CPU
        seconds, `check_cpu_seconds` went to quick checks and pictures."""
        wall0, cpu0 = self.session_clock
        cpu, check = zip(
            *self.ctx.gather_objects((time.process_time() - cpu0, self.check_cpu_session)),
            strict=True,
        )
        before = self.cost_before
        return {
            "wall_seconds": round(before["wall_seconds"] + time.perf_counter() - wall0, 1),
            "cpu_seconds": round(before["cpu_seconds"] + sum(cpu), 1),
            "check_cpu_seconds": round(before["check_cpu_seconds"] + sum(check), 1),
        }

    def training_cpu_seconds(self) -> float:
        """This process's CPU seconds on training alone, all sessions (quick checks and pictures
        left out; the whole run's in a single process)."""
        before = self.cost_before
        session = time.process_time() - self.session_clock[1] - self.check_cpu_session
        return before["cpu_seconds"] - before["check_cpu_seconds"] + session

    def _state(self) -> dict:
        rng = self.ctx.gather_objects(checkpoint.rng_state())
        state = {
            "format_version": CHECKPOINT_FORMAT,
            "rwae_version": __version__,
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": rng,
            "world_size": self.ctx.world_size,
            "cost": self.cost(),
            # the losses logged since the last metrics row: a resumed run logs the same rows
            "log_window": self.window,
            "precision": self.precision,
        }
        if self.critic_optimizer is not None:
            state["critic_optimizer"] = self.critic_optimizer.state_dict()
        return state

    def save_checkpoint(self, keep_step_file: bool = False) -> None:
        state = self._state()  # every rank takes part (RNG states are gathered)
        if self.ctx.is_main:
            checkpoint.save_atomic(state, self.last_path)
            if keep_step_file:
                checkpoint.save_atomic(state, self.last_path.with_name(f"step_{self.step:07d}.pt"))
                checkpoint.prune(self.last_path.parent, self.config.train.keep_checkpoints)
        self.ctx.barrier()

    def _pictures(self) -> None:
        if not self.ctx.is_main:
            return
        if self.preview_x is None:
            shown = self.val_set if self.val_set is not None else self.train_set
            picks = torch.linspace(0, len(shown) - 1, min(6, len(shown))).round().long().tolist()
            self.preview_x = fetch(shown, picks)["x"].to(self.ctx.device)  # spread out
        with self._autocast():
            progress_grid(
                self.model,
                self.preview_x,
                self.out / "samples" / f"step_{self.step:07d}.png",
                title=f"step {self.step}",
            )

    def _autocast(self):
        return precision.autocast(self.precision["mode"], self.ctx.device)

    def _choose_precision(self, state: dict | None) -> dict:
        """The precision of this run: as the config says; with `auto`, measured on rank 0 (and
        shared) at the start of a run, and kept on resume so that a resumed run continues as it ran."""
        wanted = self.config.train.precision
        if state is not None and "precision" in state:
            return state["precision"]
        per_rank = self.config.train.batch_size // self.ctx.world_size
        x = fetch(self.train_set, list(range(per_rank)))["x"].to(self.ctx.device)
        if wanted != "auto":
            if wanted != "fp32":
                step = precision.training_step(self.model, x)
                precision.require_runs(wanted, step, "train.precision")
            return {"mode": wanted, "chosen_by": "train.precision"}
        choice = None
        if self.ctx.is_main:
            key = precision.cache_key(
                "train", dataclasses.asdict(self.config.model), tuple(x.shape), x.device
            )
            measure = lambda: precision.training_step_seconds(self.model, x)  # noqa: E731
            choice = precision.choose(key, measure, cache_dir() / "precision.json")
            choice["chosen_by"] = "auto"
            verb = "cached measurement" if choice["cached"] else "measured"
            print(
                f"rwae: precision {choice['mode']} ({verb}: "
                + ", ".join(
                    f"{m} {s:.3f} s/step" if s is not None else f"{m} cannot run here"
                    for m, s in choice["seconds_per_step"].items()
                )
                + ")",
                file=sys.stderr,
            )
        return self.ctx.gather_objects(choice)[0]

    def _request_stop(self, signum, frame) -> None:
        self.stop_requested = True

    # ------------------------------------------------------------------ the loop
    def train_step(self, x: torch.Tensor) -> dict[str, float]:
        tc = self.config.train
        factor = learning_rate_factor(self.step, tc.steps, tc.schedule, tc.warmup_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = tc.optimizer.lr * factor
        self.model.update_schedules(self.step)
        with self._autocast():
            out = self.ddp(x)
        total = out.loss + out.critic_loss
        if self.ctx.any(not bool(torch.isfinite(total.detach()))):
            bad = {k: float(v) for k, v in out.losses.items()}
            raise TrainingDiverged(
                f"non-finite loss at step {self.step + 1} ({bad}); stopped without updating. The last good checkpoint "
                f"is {self.last_path}; lower train.optimizer.lr or the betas, or set train.grad_clip, and resume."
            )
        self.optimizer.zero_grad(set_to_none=True)
        if self.critic_optimizer is not None:
            self.critic_optimizer.zero_grad(set_to_none=True)
        total.backward()
        if tc.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.generator_parameters(), tc.grad_clip)
        self.optimizer.step()
        if self.critic_optimizer is not None:
            self.critic_optimizer.step()
        values = {k: float(v) for k, v in out.losses.items()}
        values["lr"] = tc.optimizer.lr * factor
        return values

    def fit(self) -> dict:
        """Train to config.steps (from the checkpoint when resuming); returns the run's summary.
        The run folder's lock is released when it returns or raises."""
        try:
            return self._fit()
        finally:
            self.release()

    def _fit(self) -> dict:
        tc, ctx = self.config.train, self.ctx
        finished = self.out / "train_summary.json"
        if self.step >= tc.steps and finished.is_file():
            # resuming a run that already reached its steps: nothing to train, and its summary
            # (final losses, cost) stays as the last training session wrote it
            if not ctx.is_main:
                return {}
            return {**json.loads(finished.read_text()), "nothing_to_train": True}
        old_handlers = {}
        if (
            threading.current_thread() is threading.main_thread()
        ):  # signals can only be caught there
            old_handlers = {
                s: signal.signal(s, self._request_stop) for s in (signal.SIGINT, signal.SIGTERM)
            }
        bar = tqdm(
            total=tc.steps,
            initial=self.step,
            desc="train",
            unit="step",
            disable=(not self.progress or not ctx.is_main) or None,
        )
        start, seen = time.perf_counter(), 0
        # since the last metrics row: every loss value (also those before a resume), and the steps
        # timed in this session
        window = self.window["values"]
        window_start, timed_steps = time.perf_counter(), 0
        last: dict[str, float] = {}
        try:
            while self.step < tc.steps:
                self.sampler.set_position(self.epoch, self.batch_in_epoch)
                for batch in self.loader:
                    values = self.train_step(batch["x"].to(ctx.device, non_blocking=True))
                    self.step += 1
                    self.batch_in_epoch += 1
                    seen += tc.batch_size
                    timed_steps += 1
                    for k, v in values.items():
                        window.setdefault(k, []).append(v)
                    if self.step % tc.log_every == 0 or self.step == tc.steps:
                        elapsed = time.perf_counter() - window_start
                        last = {k: sum(v) / len(v) for k, v in window.items()}
                        last["seq_per_s"] = timed_steps * tc.batch_size / max(elapsed, 1e-9)
                        if ctx.is_main:
                            self.metrics.log(self.step, {"epoch": self.epoch, **last})
                            bar.set_postfix(
                                {k: f"{v:.3g}" for k, v in last.items() if k not in ("lr", "epoch")}
                            )
                        window.clear()
                        window_start, timed_steps = time.perf_counter(), 0
                    bar.update(1)
                    check_start = time.process_time()
                    if tc.sample_every and self.step % tc.sample_every == 0:
                        self._pictures()
                    if tc.judge_every and self.step % tc.judge_every == 0 and ctx.is_main:
                        spent = {"train_cpu_seconds": round(self.training_cpu_seconds(), 1)}
                        with self._autocast():
                            scores = self.quick_check(self.model, self.step, spent)
                        shown = {
                            k: scores[k] for k in ("action_acc", "attribute_acc") if k in scores
                        }
                        if shown:
                            bar.write(
                                f"step {self.step}: "
                                + ", ".join(f"{k} {v:.3f}" for k, v in shown.items())
                            )
                    self.check_cpu_session += time.process_time() - check_start
                    if tc.checkpoint_every and self.step % tc.checkpoint_every == 0:
                        self.save_checkpoint(keep_step_file=True)
                    if ctx.any(self.stop_requested):
                        self.save_checkpoint()
                        raise TrainingInterrupted(
                            f"interrupted at step {self.step}; checkpoint written to {self.last_path}. "
                            f"Continue with: {resume_command(self.out)}"
                        )
                    if self.step >= tc.steps:
                        break
                if self.batch_in_epoch >= self.sampler.batches_per_epoch:
                    self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        finally:
            bar.close()
            for s, handler in old_handlers.items():
                signal.signal(s, handler)
        self.save_checkpoint()
        cost = self.cost()
        if not (tc.sample_every and self.step % tc.sample_every == 0):  # not drawn at this step yet
            self._pictures()
        summary = {}
        if ctx.is_main:
            if self.model.config.dynamic_start_components:  # z^m_1's generation prior, ex post
                was_training = self.model.training
                fit_in_place(self.model, self.train_set, seed=tc.seed)
                self.model.train(was_training)
            self.model.save_pretrained(
                self.out / "model",
                training_data={
                    **dataclasses.asdict(self.config.data),
                    "seq_len": self.train_set[0]["x"].shape[0],
                },
            )
            summary = {
                "steps": self.step,
                "sequences_seen_this_session": seen,
                "seconds_this_session": round(time.perf_counter() - start, 2),
                "world_size": ctx.world_size,
                "cost_all_sessions": cost,
                "precision": self.precision,
                "final_losses": last,
                "config": dataclasses.asdict(self.config),
                **provenance(),
            }
            (self.out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            self.metrics.close()
        return summary


def resume_command(out: Path) -> str:
    """The command that continues this run: under torchrun, the same launch (bit-exact resumes
    need the same number of processes)."""
    command = f"rwae train --out {out} --resume"
    if "TORCHELASTIC_RUN_ID" not in os.environ:
        return command
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    nodes = int(os.environ.get("WORLD_SIZE", "1")) // max(per_node, 1)
    launch = f"torchrun --nnodes={nodes} --nproc-per-node={per_node}"
    if nodes > 1:
        launch += " (with the same rendezvous options)"
    return f"{launch} -m {command}"


def _describe(dataset: Dataset) -> DataConfig:
    """A DataConfig naming a dataset handed over as an object (for the run's records)."""
    info = getattr(dataset, "info", None)
    return DataConfig(name=info.name if info is not None else type(dataset).__name__)
