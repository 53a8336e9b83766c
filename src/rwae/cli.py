"""The `rwae` command line: `rwae <command> [<subcommand>] ...`; `rwae --help` lists the commands."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

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
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as e:
            problem = str(e).splitlines()[0]
            raise RWAEError(f"option {pair!r}: the value is not valid YAML ({problem})") from None
    return options


def _data_build(args: argparse.Namespace) -> int:
    from rwae import data

    start = time.perf_counter()
    options = parse_options(args.option)
    for split in ("train", "val", "test"):
        ds = data.load(args.name, split, args.data_root, cache=args.cache, **options)
        print(f"{args.name} {split}: {len(ds)} sequences, x {tuple(ds[0]['x'].shape)}")
    print(f"ready in {time.perf_counter() - start:.1f} s; cache: {data.cache_dir(args.cache)}")
    return 0


def _data_show(args: argparse.Namespace) -> int:
    from rwae import data
    from rwae.pictures import show_dataset

    ds = data.load(
        args.name, args.split, args.data_root, cache=args.cache, **parse_options(args.option)
    )
    out = show_dataset(ds, args.out, count=args.count, seed=args.seed)
    print(f"wrote {out} ({min(args.count, len(ds))} of {len(ds)} {args.split} sequences)")
    return 0


def _train(args: argparse.Namespace) -> int:
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
    if summary.get("nothing_to_train"):
        print(
            f"nothing to train: {out} already reached step {summary['steps']}; model: {Path(out) / 'model'}"
        )
    elif summary:
        losses = ", ".join(
            f"{k} {v:.4g}" for k, v in summary["final_losses"].items() if k not in ("epoch", "lr")
        )
        print(
            f"trained to step {summary['steps']} in {summary['seconds_this_session']:.0f} s ({losses}); model: {Path(out) / 'model'}"
        )
    return 0


def _judge_train(args: argparse.Namespace) -> int:
    from rwae.training.judge import train_judge

    results = train_judge(
        args.dataset,
        args.out,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        root=args.data_root,
    )
    scores = ", ".join(f"{k} {v:.4f}" for k, v in results["test"].items())
    print(f"judge for {args.dataset} saved to {args.out}; test: {scores}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from rwae.evaluation.report import run_evaluation

    record = run_evaluation(
        args.model,
        dataset=args.dataset,
        split=args.split,
        repeats=args.repeats,
        seed=args.seed,
        out=args.out,
        limit=args.limit,
        judge=args.judge,
        overwrite=args.overwrite,
        batch_size=args.batch_size,
        root=args.data_root,
        device=args.device,
        pictures=not args.no_pictures,
        precision=args.precision,
    )
    for name, value in record["metrics"].items():
        print(f"{name:28s} {value['mean']:.4f} ± {value['std']:.4f}")
    print(
        f"wrote {record['out']}/results.json and report.md ({record['evaluation']['elapsed_s']} s)"
    )
    return 0


def _encode(args: argparse.Namespace) -> int:
    from rwae import data
    from rwae.codes import encode_dataset, save_codes
    from rwae.models import RWAE

    model = RWAE.from_pretrained(args.model)
    builtin = args.data in data.DATASETS
    split = args.split or ("test" if builtin else "all")
    dataset = data.load(args.data, split, args.data_root, **parse_options(args.option))
    codes = encode_dataset(model, dataset, batch_size=args.batch_size)
    out = save_codes(args.out, codes)
    shapes = ", ".join(f"{k} {v.shape}" for k, v in codes.items())
    print(f"wrote {out}: {len(codes['static'])} sequences of {args.data} ({split}); {shapes}")
    return 0


def _swap(args: argparse.Namespace) -> int:
    from rwae.data.dataset import fetch
    from rwae.evaluation.report import load_eval_set
    from rwae.models import RWAE
    from rwae.models.pretrained import resolve_model_dir
    from rwae.pictures import save_samples, save_swap

    model_dir = resolve_model_dir(args.model)
    model = RWAE.from_pretrained(model_dir)
    if (args.static is None) != (args.dynamics is None):
        raise RWAEError("swap: pass both --static A and --dynamics B (or neither, for a grid)")
    if args.static is not None:
        from rwae.codes import read_sequence

        if not model.config.is_image:
            raise RWAEError("swap --static/--dynamics reads image sequences; this model is audio")
        a = read_sequence(args.static, model.config.frame_shape)
        b = read_sequence(args.dynamics, model.config.frame_shape)
        out = save_samples(model.eval().swap(a[None], b[None]), args.out, columns=1)
        print(f"wrote {out}: the look of {args.static} with the motion of {args.dynamics}")
        return 0
    _, _, test = load_eval_set(model_dir, args.dataset, args.data_root)
    picks = pick_indices(len(test), args.count, args.seed)
    out = save_swap(model, fetch(test, picks)["x"], args.out)
    print(f"wrote {out}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    import torch

    from rwae.evaluation.report import training_data
    from rwae.models import RWAE
    from rwae.models.pretrained import resolve_model_dir
    from rwae.pictures import save_samples

    model_dir = resolve_model_dir(args.model)
    model = RWAE.from_pretrained(model_dir)
    length = args.length or int(training_data(model_dir).get("seq_len", 8))
    g = torch.Generator().manual_seed(args.seed)
    samples = model.generate(args.count, length, generator=g, action=args.action)
    print(f"wrote {save_samples(samples, args.out)}")
    return 0


def _fit_prior(args: argparse.Namespace) -> int:
    from rwae.dynamic_start import fit_dynamic_start
    from rwae.evaluation.report import load_eval_set, training_data
    from rwae.models import RWAE
    from rwae.models.pretrained import resolve_model_dir

    if args.components < 1:
        raise RWAEError(f"--components must be at least 1, got {args.components}")
    model_dir = resolve_model_dir(args.model)
    model = RWAE.from_pretrained(model_dir)
    trained_on = training_data(model_dir)
    split = trained_on.get("train_split", "train") if args.dataset is None else "train"
    name, split, dataset = load_eval_set(model_dir, args.dataset, args.data_root, split)
    fitted = fit_dynamic_start(model, dataset, args.components, args.sequences, args.seed)
    out = fitted.save_pretrained(args.out, training_data=trained_on or None)
    used = min(args.sequences, len(dataset))
    print(
        f"wrote {out}: samples start z^m from a {args.components}-component Gaussian mixture "
        f"fitted to the first dynamic codes of {used} sequences of {name} ({split})"
    )
    return 0


def pick_indices(n: int, count: int, seed: int) -> list[int]:
    """`count` distinct test indices drawn at random with the seed (an even spread over a sorted
    split can land on one class every time)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return sorted(rng.choice(n, size=min(count, n), replace=False).tolist())


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

    judge_parser = commands.add_parser(
        "judge", help="judges: classifiers that score generated sequences"
    )
    judge_commands = judge_parser.add_subparsers(
        dest="judge_command", metavar="<subcommand>", required=True
    )
    p = judge_commands.add_parser(
        "train", help="train a judge on a dataset's real data (full supervision)"
    )
    p.add_argument("dataset", help="sprites | smmnist | fsdd")
    p.add_argument(
        "--out", required=True, help="folder for config.json, model.safetensors, results.json"
    )
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None)
    p.set_defaults(func=_judge_train)

    p = commands.add_parser(
        "eval", help="evaluate a model: the field's metrics, results.json and report.md"
    )
    _add_model_args(p)
    p.add_argument("--dataset", default=None, help="default: the dataset the model was trained on")
    p.add_argument(
        "--split",
        default=None,
        help="default: the test split (final tables); val for selection and studies",
    )
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="default: <run>/eval")
    p.add_argument(
        "--limit", type=int, default=None, help="evaluate N spread-out test sequences (quick looks)"
    )
    p.add_argument(
        "--judge", default=None, help="a judge folder (default: the shipped judge of the dataset)"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=32,
        help="sequences per pass (32: tensors small enough for the CPU allocator to reuse)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--data-root", default=None)
    p.add_argument("--overwrite", action="store_true", help="replace an existing results.json")
    p.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "bf16"),
        help="auto (default): the faster on this machine, measured; recorded in results.json",
    )
    p.add_argument("--no-pictures", action="store_true")
    p.set_defaults(func=_eval)

    p = commands.add_parser(
        "encode",
        help="posterior means of z^c and z^m (and names, labels) of every sequence, to a .npz",
    )
    _add_model_args(p)
    p.add_argument(
        "data", help="sprites | smmnist | fsdd | timit, or a path (.npy, .npz, folder of GIFs)"
    )
    p.add_argument("--out", required=True, help="codes.npz")
    p.add_argument(
        "--split", default=None, help="default: test for a built-in dataset, all for a path"
    )
    p.add_argument("--data-root", default=None)
    p.add_argument("--option", nargs="*", default=[], metavar="KEY=VALUE", help="dataset options")
    p.add_argument("--batch-size", type=int, default=64)
    p.set_defaults(func=_encode)

    p = commands.add_parser(
        "swap",
        help="A's look with B's motion (--static A --dynamics B), or a grid of test sequences: "
        "static codes in rows, dynamics in columns",
    )
    _add_model_args(p)
    p.add_argument(
        "--out", required=True, help="swap.png (animation strips) or swap.gif (animated)"
    )
    p.add_argument("--static", default=None, help="the look: a .gif, frame folder or .npy")
    p.add_argument("--dynamics", default=None, help="the motion: a .gif, frame folder or .npy")
    p.add_argument("--dataset", default=None)
    p.add_argument("--count", type=int, default=4, help="sequences per side")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None)
    p.set_defaults(func=_swap)

    p = commands.add_parser(
        "sample", help="unconditional samples (.gif animated, .png frames in rows)"
    )
    _add_model_args(p)
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--length", type=int, default=None, help="frames (default: the training length)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--action",
        type=int,
        default=None,
        help="a model with an action code: generate category K of it (0..num_actions-1)",
    )
    p.set_defaults(func=_sample)

    p = commands.add_parser(
        "fit-prior",
        help="fit the first dynamic code's generation prior to the training codes (a Gaussian "
        "mixture): samples spread over every motion",
    )
    _add_model_args(p)
    p.add_argument("--out", required=True, help="the folder of the model with the fitted prior")
    p.add_argument("--components", type=int, default=9, help="mixture components K")
    p.add_argument("--sequences", type=int, default=4000, help="training sequences encoded")
    p.add_argument("--dataset", default=None, help="default: the data the model was trained on")
    p.add_argument("--data-root", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_fit_prior)

    p = commands.add_parser("config", help="print a resolved config (all keys with their values)")
    _add_config_args(p)
    p.set_defaults(func=_config)
    return parser


def _add_model_args(p: argparse.ArgumentParser) -> None:
    """The model to use: positional or --model; the shipped default model when neither is given."""
    p.add_argument(
        "model",
        nargs="?",
        default=None,
        help="a model folder (save_pretrained), a run folder, or a shipped model's name "
        "(default: the shipped Sprites model, 'default')",
    )
    p.add_argument("--model", dest="model_option", default=None, help="the same, as an option")


def _chosen_model(args: argparse.Namespace) -> str:
    if args.model is not None and args.model_option is not None:
        raise RWAEError(
            f"give the model once: got {args.model!r} and --model {args.model_option!r}"
        )
    return args.model or args.model_option or "default"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (user mistakes print one line and return 2)."""
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "model_option"):
            args.model = _chosen_model(args)
        return args.func(args)
    except RWAEError as e:
        print(f"rwae: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
