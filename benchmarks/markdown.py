"""Read and rewrite a generated block of a Markdown file (tables made from results files)."""

from __future__ import annotations

from pathlib import Path


def _split(path: Path, name: str) -> tuple[str, str, str]:
    """(before, inside, after) the lines between <!-- name:start --> and <!-- name:end -->."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, found, rest = path.read_text().partition(start)
    if not found or end not in rest:
        raise SystemExit(f"{path}: markers {start} ... {end} not found")
    inside, _, tail = rest.partition(end)
    return head + start, inside, end + tail


def read_block(path: Path, name: str) -> str:
    """The text of a generated block, without its markers and surrounding blank lines."""
    return _split(path, name)[1].strip()


def replace_block(path: Path, name: str, text: str) -> None:
    """Replace the lines between <!-- name:start --> and <!-- name:end --> in a Markdown file."""
    head, _, tail = _split(path, name)
    path.write_text(head + "\n" + text.rstrip() + "\n" + tail)
