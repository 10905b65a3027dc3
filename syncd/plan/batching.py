"""Cutting a list of ids into the batches one vendor call takes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence


def chunks(items: Sequence[str], size: int | None) -> Iterator[tuple[str, ...]]:
    """``items`` in batches of at most ``size`` (None or 0: one batch), in order."""
    if not size or size >= len(items):
        yield tuple(items)
        return
    for start in range(0, len(items), size):
        yield tuple(items[start : start + size])
