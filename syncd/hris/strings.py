"""Numpy kernels over the bytes of Arrow string arrays, for what pyarrow compute does slowly.

An Arrow string array is one buffer of UTF-8 bytes plus an offsets array. Questions such as
"which rows contain a doubled space", "where is the first comma of each row" or "cut each row
at its own position" are a handful of whole-buffer numpy operations, several times faster
than per-string kernels (``split_pattern``, ``match_substring``) on a million short values.
All positions here are byte offsets into the array's own data; multi-byte characters are
never split because the bytes searched for (space, comma) are ASCII.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_BLOCK = 1 << 16


def buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data) of a string array as numpy views; offsets start at 0 into data."""
    _, offsets_buf, data_buf = values.buffers()
    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    raw = np.frombuffer(offsets_buf, dtype=width)[values.offset : values.offset + len(values) + 1]
    offsets = raw.astype(np.int64)
    if data_buf is None or len(values) == 0:
        return offsets - (offsets[0] if len(offsets) else 0), np.empty(0, dtype=np.uint8)
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


def row_of(offsets: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The row each byte position belongs to."""
    return np.searchsorted(offsets, positions, side="right") - 1


def first_in_row(offsets: np.ndarray, positions: np.ndarray, *, last: bool = False) -> np.ndarray:
    """Per row, the first (or last) of the sorted ``positions`` inside it; -1 when none."""
    result = np.full(len(offsets) - 1, -1, dtype=np.int64)
    if not len(positions):
        return result
    rows = row_of(offsets, positions)
    if last:
        edge = np.ones(len(rows), dtype=bool)
        edge[:-1] = rows[1:] != rows[:-1]
    else:
        edge = np.ones(len(rows), dtype=bool)
        edge[1:] = rows[1:] != rows[:-1]
    result[rows[edge]] = positions[edge]
    return result


def next_after(positions: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """For each row, the first of the sorted ``positions`` in [start, end); -1 when none."""
    if not len(positions):
        return np.full(len(start), -1, dtype=np.int64)
    index = np.searchsorted(positions, start)
    found = positions[np.minimum(index, len(positions) - 1)]
    return np.where((index < len(positions)) & (found < end), found, -1)


def cut(data: np.ndarray, start: np.ndarray, end: np.ndarray) -> pa.Array:
    """A new string array whose row i is ``data[start[i]:end[i]]`` (empty when end <= start)."""
    lengths = np.maximum(end - start, 0)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    gathered = np.empty(int(offsets[-1]), dtype=np.uint8)
    # Gather in blocks of rows so the byte index never needs 8 bytes per byte of the column.
    for first in range(0, len(lengths), _BLOCK):
        rows = slice(first, first + _BLOCK)
        low, high = int(offsets[first]), int(offsets[min(first + _BLOCK, len(lengths))])
        if high > low:
            shift = np.repeat(start[rows] - offsets[:-1][rows], lengths[rows])
            gathered[low:high] = data[np.arange(low, high, dtype=np.int64) + shift]
    return pa.Array.from_buffers(
        pa.large_string(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(gathered)]
    )


def packed(values: pa.Array) -> np.ndarray | None:
    """Each value as one uint64 when every value is at most 8 bytes, else None.

    Short keys (employee ids) then hash as integers, far faster than as strings. Values never
    contain NUL (binary files are refused), so zero padding cannot make two values equal.
    """
    offsets, data = buffers(values)
    lengths = np.diff(offsets)
    if len(lengths) and lengths.max() > 8:
        return None
    matrix = np.zeros((len(lengths), 8), dtype=np.uint8)
    if len(data):
        starts = offsets[:-1]
        for column in range(8):
            has = lengths > column
            matrix[has, column] = data[starts[has] + column]
    return matrix.view(np.uint64).ravel()
