"""An exclusive lock on a run folder for the life of a training run.

`fcntl.flock` on `<run>/.lock`: the operating system drops the lock when its process ends, however it
ends (kill -9 included), so a stale lock never blocks a resume; a second writer is refused at once,
with the holder's process id.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from rwae.errors import RWAEError

LOCK_NAME = ".lock"


class RunLock:
    def __init__(self, folder: str | os.PathLike) -> None:
        """Take the lock (creating the folder if needed), or raise RWAEError naming its holder."""
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fd: int | None = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "unknown"
            self.release()
            raise RWAEError(
                f"{self.folder} is in use by another training process (pid {holder}); wait for it "
                "to finish or stop it, or choose another --out"
            ) from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor drops the lock
            self.fd = None

    def __del__(self) -> None:
        self.release()
