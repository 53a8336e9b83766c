"""Render the table of shipped judges (from their results.json files) into docs/evaluation.md.

python benchmarks/judges_table.py --doc docs/evaluation.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from markdown import replace_block

REPO = Path(__file__).resolve().parents[1]
JUDGES = REPO / "src" / "rwae" / "evaluation" / "judges"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--doc", required=True, help="Markdown file with a judges block")
    args = parser.parse_args()
    lines = [
        "| judge | heads: test accuracy (or mean absolute error) | test sequences | training | command |",
        "| --- | --- | --- | --- | --- |",
    ]
    for folder in sorted(p for p in JUDGES.iterdir() if (p / "results.json").is_file()):
        r = json.loads((folder / "results.json").read_text())
        heads = ", ".join(
            f"{k.split('.', 1)[1]} {v * 100:.2f}%"
            if k.startswith("accuracy.")
            else f"{k.split('.', 1)[1]} {v:.2f} px"
            for k, v in r["test"].items()
        )
        t = r["train"]
        lines.append(
            f"| {r['dataset']} | {heads} | {r['test_sequences']} | {t['steps']} steps of {t['batch_size']}, {t['seconds']:.0f} s | `{r['command']}` |"
        )
    lines.append(
        "\nFrom `src/rwae/evaluation/judges/*/results.json`; rendered by `python benchmarks/judges_table.py --doc docs/evaluation.md`."
    )
    replace_block(Path(args.doc), "judges", "\n".join(lines))


if __name__ == "__main__":
    main()
