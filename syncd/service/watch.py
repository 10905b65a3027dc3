"""New exports in watched sources (``sources.*.watch``), found by polling.

Polling, not inotify: it works the same on every filesystem an export lands on (NFS and
SMB shares included, where change events are not delivered) and costs a glob and a stat
every few seconds. A source's signature is the file the reader would take (the path, or
the newest file of the glob) with its size and modification time. A changed signature is
taken only once it stays the same over two polls, so a file still being copied in is not
read half-written. The signature at start is taken as seen: the start runs a roster sync
anyway.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from syncd.errors import SourceFileError
from syncd.hris.reader import locate

Signature = tuple[str, int, int]


def signature(path: str) -> Signature | None:
    """(file, mtime in ns, size) of the export ``path`` names now, or None when none."""
    try:
        found = locate(path)
        info = os.stat(found)
    except (SourceFileError, OSError):
        return None
    return (str(found), info.st_mtime_ns, info.st_size)


class Watcher:
    """Which watched sources have a new export since the last time one was taken."""

    def __init__(self, paths: Mapping[str, str]) -> None:
        self.paths = dict(paths)
        """Source name -> path or glob (absolute)."""
        self._taken: dict[str, Signature | None] = {n: signature(p) for n, p in paths.items()}
        self._candidate: dict[str, Signature | None] = {}

    def update(self, paths: Mapping[str, str]) -> None:
        """New set of watched sources (a reload); sources kept keep what they had seen."""
        for name, path in paths.items():
            if self.paths.get(name) != path:
                self._taken[name] = signature(path)
                self._candidate.pop(name, None)
        for name in set(self.paths) - set(paths):
            self._taken.pop(name, None)
            self._candidate.pop(name, None)
        self.paths = dict(paths)

    def poll(self) -> list[str]:
        """Sources whose export changed and has settled since the previous poll."""
        changed = []
        for name, path in sorted(self.paths.items()):
            now = signature(path)
            if now is None or now == self._taken.get(name):
                self._candidate.pop(name, None)
                continue
            if self._candidate.get(name) == now:
                self._taken[name] = now
                self._candidate.pop(name, None)
                changed.append(name)
            else:
                self._candidate[name] = now
        return changed
