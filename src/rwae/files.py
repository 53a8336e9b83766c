"""Writing files safely: flushed to disk before they are renamed into place, readable like any file
the user creates, and a full disk reported with the path and the free space."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path


def fsync_file(path: Path) -> None:
    """Flush a written file's contents to disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename inside it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def as_user_file(path: Path) -> None:
    """Give a file the permissions the user's umask gives new files (0644 under the usual 022);
    some writers create theirs private (0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def write_problem(error: BaseException, path: Path) -> str:
    """Why writing `path` failed, in words, with the free space beside it."""
    free = shutil.disk_usage(path.parent).free
    if getattr(error, "errno", None) == errno.ENOSPC or free < 64 * 2**20:
        return f"the disk is full: {free / 2**20:.0f} MB free on {path.parent}"
    return f"{error}; {free / 2**20:.0f} MB free on {path.parent}"
