"""The `rwae` command line: `rwae <command> [<subcommand>] ...`; `rwae --help` lists the commands."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import yaml

from rwae._version import __version__
from rwae.errors import RWAEError


def parse_options(pairs: Sequence[str]) -> dict:
    """["seq_len=15", "segment=windows"] -> {"seq_len": 15, "segment": "windows"} (values parsed as YAML)."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RWAEError(f"option {pair!r} must look like key=value")
        options[key.strip()] = yaml.safe_load(value)
    return options


def _data_build(args: argparse.Namespace) -> int:
    from rwae import data

    start = time.perf_counter()
    options = parse_options(args.option)
    for split in ("train", "test"):
        ds = data.load(args.name, split, args.data_root, cache=args.cache, **options)
        print(f"{args.name} {split}: {len(ds)} sequences, x {tuple(ds[0]['x'].shape)}")
    print(f"ready in {time.perf_counter() - start:.1f} s; cache: {data.cache_dir(args.cache)}")
    return 0


def _data_show(args: argparse.Namespace) -> int:
    from rwae import data
    from rwae.data.preview import show_dataset

    ds = data.load(
        args.name, args.split, args.data_root, cache=args.cache, **parse_options(args.option)
    )
    out = show_dataset(ds, args.out, count=args.count, seed=args.seed)
    print(f"wrote {out} ({min(args.count, len(ds))} of {len(ds)} {args.split} sequences)")
    return 0


def _train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rwae.config import load_config
    from rwae.training import TrainingInterrupted, resume_config, train

    if args.resume:
        if args.out is None:
            raise RWAEError("--resume needs --out DIR (the run to continue)")
        config = resume_config(args.out, args.set)
    else:
        config = load_config(args.config, args.set)
    out = args.out or str(Path("runs") / (Path(args.config).stem if args.config else "default"))
    try:
        summary = train(config, out, resume=args.resume, progress=not args.quiet)
    except TrainingInterrupted as e:
        print(f"rwae: {e}", file=sys.stderr)
        return 130
    if summary:
        losses = ", ".join(
            f"{k} {v:.4g}" for k, v in summary["final_losses"].items() if k not in ("epoch", "lr")
        )
        print(
            f"trained to step {summary['steps']} in {summary['seconds_this_session']:.0f} s ({losses}); model: {Path(out) / 'model'}"
        )
    return 0


def _config(args: argparse.Namespace) -> int:
    from rwae.config import load_config

    print(yaml.safe_dump(load_config(args.config, args.set).to_dict(), sort_keys=False), end="")
    return 0


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", default=None, help="YAML config file (default: the built-in defaults)"
    )
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override config keys, e.g. train.steps=20 model.kernel=rbf",
    )


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "name", help="sprites | smmnist | fsdd | timit, or a path to user data (.npy, .npz, folder)"
    )
    p.add_argument(
        "--data-root",
        default=None,
        help="folder holding the raw data (default: $RWAE_DATA_ROOT, then ../shared/data)",
    )
    p.add_argument(
        "--cache", default=None, help="cache folder (default: $RWAE_CACHE, then ~/.cache/rwae)"
    )
    p.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dataset option, e.g. seq_len=15 (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rwae",
        description="Recurrent Wasserstein Autoencoder: disentangled sequence representations.",
    )
    parser.add_argument("--version", action="version", version=f"rwae {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True)

    data_parser = commands.add_parser(
        "data", help="build and look at datasets", description="Build and look at datasets."
    )
    data_commands = data_parser.add_subparsers(
        dest="data_command", metavar="<subcommand>", required=True
    )
    p = data_commands.add_parser(
        "build", help="build a dataset into the cache (checks raw files' checksums)"
    )
    _add_data_args(p)
    p.set_defaults(func=_data_build)
    p = data_commands.add_parser(
        "show", help="draw a grid of sequences (a spectrogram per row for audio)"
    )
    _add_data_args(p)
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--split", default="train", help="train | test | all (default: train)")
    p.add_argument("--count", type=int, default=8, help="number of sequences (rows)")
    p.add_argument("--seed", type=int, default=0, help="which sequences are drawn")
    p.set_defaults(func=_data_show)

    p = commands.add_parser(
        "train",
        help="train a model (torchrun -m rwae train ... for several processes)",
        description="Train R-WAE (or DSVAE: model.static_penalty=kl model.dynamic_penalty=kl). "
        "Under torchrun the same command runs PyTorch DDP.",
    )
    _add_config_args(p)
    p.add_argument("--out", default=None, help="run folder (default: runs/<config name>)")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)

    p = commands.add_parser("config", help="print a resolved config (all keys with their values)")
    _add_config_args(p)
    p.set_defaults(func=_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (user mistakes print one line and return 2)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RWAEError as e:
        print(f"rwae: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
