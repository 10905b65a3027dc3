"""Files written whole or not at all: a reader (an HRIS import job, a restarted sandbox)
sees the previous file or the new one, never half of one, even after a kill or a power cut.

The bytes go to a temporary file in the same folder, are flushed to disk, renamed over the
target (atomic within a file system) and the folder is synced so the rename itself
survives a crash. A failure removes the temporary file and leaves the target untouched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def replacing(path: Path, mode: str = "wb", **options: Any) -> Iterator[IO[Any]]:
    """A handle to write ``path``'s new content into; it replaces ``path`` when the block
    ends without an exception. ``options`` go to :func:`open` (``encoding``, ``newline``)."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
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
