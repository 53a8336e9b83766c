"""Where raw data and caches live, checksum verification, and atomic cache writes."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from rwae.errors import DataError

DATA_ROOT_ENV = "RWAE_DATA_ROOT"
CACHE_ENV = "RWAE_CACHE"
DEFAULT_RELATIVE_ROOT = Path("..") / "shared" / "data"


def package_path(*parts: str) -> Path:
    """Path of a file shipped inside the package (assets, checksum lists)."""
    return Path(str(resources.files("rwae").joinpath(*parts)))


def data_root_candidates(root: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """The data roots to try, in order, each with where it came from."""
    if root is not None:
        return [("the root= argument / --data-root", Path(root).expanduser())]
    candidates = []
    if os.environ.get(DATA_ROOT_ENV):
        candidates.append((f"${DATA_ROOT_ENV}", Path(os.environ[DATA_ROOT_ENV]).expanduser()))
    candidates.append(
        ("../shared/data relative to the working directory", Path.cwd() / DEFAULT_RELATIVE_ROOT)
    )
    return candidates


def cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """The cache folder: `cache`, else $RWAE_CACHE, else $XDG_CACHE_HOME/rwae (~/.cache/rwae)."""
    if cache is not None:
        return Path(cache).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "rwae"


def read_checksums(name: str) -> dict[str, str]:
    """The golden sha256 list shipped with the package for raw dataset `name` (path -> hex)."""
    sums = {}
    for line in package_path("data", "checksums", f"{name}.sha256").read_text().splitlines():
        if line.strip():
            digest, path = line.split(maxsplit=1)
            sums[path.removeprefix("./")] = digest
    return sums


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _describe_missing(folder: str, missing: list[tuple[str, str]], sums_name: str) -> str:
    shown = missing if len(missing) <= 12 else missing[:10]
    lines = [f"  {folder}/{path}  sha256 {digest}" for path, digest in shown]
    if len(shown) < len(missing):
        lines.append(
            f"  ... and {len(missing) - len(shown)} more; every expected file with its sha256 is "
            f"listed in {package_path('data', 'checksums', sums_name + '.sha256')}"
        )
    return "\n".join(lines)


def locate_raw(
    folder: str,
    required: list[str],
    root: str | os.PathLike | None = None,
    sums_name: str | None = None,
) -> Path:
    """Find `<data root>/<folder>` holding every file in `required`, and verify their checksums.

    Tries the roots of `data_root_candidates` in order. Raises DataError naming every missing file,
    its expected sha256, and every place that was searched; or the first file whose bytes are wrong.
    """
    sums = read_checksums(sums_name or folder)
    tried = []
    best: tuple[Path, list[str]] | None = None
    for origin, base in data_root_candidates(root):
        path = base / folder
        missing = [f for f in required if not (path / f).is_file()]
        if not missing:
            verify_checksums(path, required, sums)
            return path
        tried.append(
            f"  {path.resolve() if path.exists() else path} ({origin}): {len(missing)} of {len(required)} files missing"
        )
        if best is None or len(missing) < len(best[1]):
            best = (path, missing)
    assert best is not None
    listing = _describe_missing(
        folder, [(f, sums.get(f, "?")) for f in best[1]], sums_name or folder
    )
    raise DataError(
        f"raw files for '{folder}' not found. Expected these files:\n{listing}\n"
        f"Looked in:\n" + "\n".join(tried) + "\n"
        f"Pass --data-root DIR (root= in Python) or set ${DATA_ROOT_ENV} to the folder that contains '{folder}/'."
    )


def verify_checksums(folder: Path, files: list[str], sums: dict[str, str]) -> None:
    """Raise DataError for the first file whose sha256 differs from the golden list."""
    for f in files:
        expected = sums.get(f)
        if expected is None:
            continue
        actual = sha256_file(folder / f)
        if actual != expected:
            raise DataError(
                f"{folder / f}: sha256 is {actual}, expected {expected}; the file is corrupt or "
                f"not the one this dataset is built from. Restore the original file."
            )


@contextlib.contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary folder beside `final`; on success it is renamed to `final` in one step.

    A build that is killed leaves only a `.tmp-*` folder behind, never a half-written cache.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():  # another process finished first: keep its (identical) result
            shutil.rmtree(tmp)
        else:
            try:
                os.replace(tmp, final)
            except OSError as e:  # another process renamed its copy in at the same instant
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not final.exists():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
