"""Rewrite a generated block of a Markdown file (tables made from results files)."""

from __future__ import annotations

from pathlib import Path


def replace_block(path: Path, name: str, text: str) -> None:
    """Replace the lines between <!-- name:start --> and <!-- name:end --> in a Markdown file."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    content = path.read_text()
    head, found, rest = content.partition(start)
    if not found or end not in rest:
        raise SystemExit(f"{path}: markers {start} ... {end} not found")
    path.write_text(head + start + "\n" + text.rstrip() + "\n" + end + rest.partition(end)[2])
