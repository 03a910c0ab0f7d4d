"""Leadership on SQLite: an exclusive `flock` on a file beside the database.

PostgreSQL replicas elect their leader with an advisory lock (it asks WebSub hubs and, without a
webhook, long-polls Telegram; the polling is shared by lease there). SQLite has nothing alike,
and two `newsbot run` processes on one database file would both poll every feed and both
long-poll Telegram. The kernel's file
lock plays the advisory lock's part: the first process to take it leads for its whole lifetime,
and when it exits, however it exits, the kernel releases the lock and the next process to ask
takes over. The holder writes its pid into the file so that the others can say who leads.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class FileLock:
    """An exclusive, non-blocking lock on `path`, held until `release()` or the process ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True while this object holds it."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        """Who holds the lock, as its holder wrote it (a pid), or '' when unknown."""
        try:
            return self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return ""

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the last descriptor releases the flock


def lock_path(database: str, name: str) -> Path:
    """`<database>-<name>.lock`, beside the database file."""
    return Path(f"{database}-{name}.lock")
