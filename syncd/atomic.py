"""Files written whole or not at all: a reader (an HRIS import job, a restarted sandbox)
sees the previous file or the new one, never half of one, even after a kill or a power cut.

The bytes go to a temporary file in the same folder, are flushed to disk, renamed over the
target (atomic within a file system) and the folder is synced so the rename itself
survives a crash. A failure removes the temporary file and leaves the target untouched.

The new file gets the permissions a plain ``open()`` would give it (the process's umask),
or those of the file it replaces: a temporary file is created owner-only, and a results
export an HRIS import job (another user) cannot read is no export.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    """The process's umask, read without changing it (Linux); the usual 022 elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


@contextmanager
def replacing(path: Path, mode: str = "wb", **options: Any) -> Iterator[IO[Any]]:
    """A handle to write ``path``'s new content into; it replaces ``path`` when the block
    ends without an exception. ``options`` go to :func:`open` (``encoding``, ``newline``)."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, mode, **options) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
