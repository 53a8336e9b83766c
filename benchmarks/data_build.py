"""Time the build of every built-in dataset into a fresh cache and measure the cache's size.

    python benchmarks/data_build.py [--doc docs/datasets.md]

Writes benchmarks/results/data_build.json and, with --doc, the table between the
<!-- data-build:start/end --> markers of that file.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from markdown import replace_block

from rwae import data
from rwae.provenance import provenance

REPO = Path(__file__).resolve().parents[1]


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "data_build.json"))
    parser.add_argument(
        "--doc", default=None, help="Markdown file whose data-build block to rewrite"
    )
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="rwae-build-") as cache:
        for name in data.DATASETS:
            before = set(Path(cache).iterdir())
            start = time.perf_counter()
            train = data.load(name, "train", cache=cache, progress=False)
            test = data.load(name, "test", cache=cache, progress=False)
            seconds = time.perf_counter() - start
            start = time.perf_counter()
            data.load(name, "test", cache=cache, progress=False)
            cached_seconds = time.perf_counter() - start
            new = set(Path(cache).iterdir()) - before
            rows[name] = {
                "build_seconds": round(seconds, 2),
                "cached_load_seconds": round(cached_seconds, 3),
                "cache_megabytes": round(sum(folder_bytes(p) for p in new) / 2**20, 1),
                "train_sequences": len(train),
                "test_sequences": len(test),
                "item_shape": list(test[0]["x"].shape),
            }
            print(name, rows[name], flush=True)
    result = {"datasets": rows, **provenance(REPO)}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    if args.doc:
        lines = [
            "| dataset | train / test sequences | item `x` shape | build (s) | cached load (s) | cache (MB) |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name, r in rows.items():
            lines.append(
                f"| {name} | {r['train_sequences']} / {r['test_sequences']} | {tuple(r['item_shape'])} | "
                f"{r['build_seconds']} | {r['cached_load_seconds']} | {r['cache_megabytes']} |"
            )
        lines.append(
            f"\nMeasured by `python benchmarks/data_build.py --doc docs/datasets.md` ({Path(args.out).relative_to(REPO)}), torch {result['torch_version']}, {result['machine']['threads']} threads."
        )
        replace_block(Path(args.doc), "data-build", "\n".join(lines))


if __name__ == "__main__":
    main()
