"""Files a user names, read whole: a regular file, or a refusal before a byte is read.

Opening a named pipe waits for a writer and a device never ends, so an export path or a
plan file pointed at either would hang the command. The kind is checked on the path, and
again on the opened descriptor (opened without blocking) in case the path was swapped in
between. Each caller words the refusal for its own file (:class:`IrregularFile`).
"""

from __future__ import annotations

import os
import stat as stat_module
from pathlib import Path

_KINDS = (
    (stat_module.S_ISDIR, "a directory"),
    (stat_module.S_ISFIFO, "a named pipe (FIFO)"),
    (stat_module.S_ISCHR, "a character device"),
    (stat_module.S_ISBLK, "a block device"),
    (stat_module.S_ISSOCK, "a socket"),
)


class IrregularFile(Exception):
    """The path names something other than a regular file; ``what`` says what it is."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{path}: is {what}, not a regular file")
        self.path = path
        self.what = what


def _check(path: Path, stat: os.stat_result) -> None:
    if stat_module.S_ISREG(stat.st_mode):
        return
    what = next((name for test, name in _KINDS if test(stat.st_mode)), "a special file")
    raise IrregularFile(path, what)


def read_regular(path: Path, *, limit: int | None = None) -> tuple[bytes, os.stat_result]:
    """The file's bytes (at most ``limit`` + 1 of them, so a caller can tell "too large")
    and its status; :class:`IrregularFile` for anything but a regular file, OSError as the
    system raised it."""
    _check(path, path.stat())
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        found = os.fstat(handle.fileno())
        _check(path, found)
        return handle.read() if limit is None else handle.read(limit + 1), found
