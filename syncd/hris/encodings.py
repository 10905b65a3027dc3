"""Exports that mix two encodings: UTF-8 with some cp1252 lines, or cp1252 with some UTF-8.

It happens when rows are pasted in from another system, or when an HRIS appends to a file
an older export started. Read whole as cp1252, a UTF-8 "José" becomes "JosÃ©"; read whole
as UTF-8, a cp1252 "Renée" is not text at all. So the file is read in the encoding most of
its lines are in, and the lines that do not read cleanly in it are decoded as a person
would read them (each UTF-8 sequence as UTF-8, each other byte as cp1252), for the
quarantine only: their records are rejected, because that is still a guess.

Deciding which encoding a file mostly is costs a few numpy passes over its bytes; only the
lines that are not in it are handled one by one, so a large file with a few odd lines
reads at the speed of a clean one. A plain cp1252 file holds no UTF-8 sequence at all and
leaves here after the first pass.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import numpy as np

_STEP = 1 << 22
_ESCAPED = re.compile("[\udc80-\udcff]+")


@dataclass(frozen=True)
class Undecodable:
    """A record holding bytes that are not in the encoding the rest of the file is read in."""

    line: int  # where the record starts
    column: int  # position of the field holding the first such byte
    value: str  # that field, as its bytes most likely read (in the other encoding)


@dataclass(frozen=True)
class Mixed:
    """A file read in one encoding although some of its lines are in another."""

    encoding: str  # what the file is read as
    other: str  # what the lines that are not look like
    offsets: np.ndarray  # in the decoded text: the first character of each such line not read
    rows: tuple[Undecodable, ...] = ()


def split_mixed(raw: bytes) -> tuple[bytes, Mixed] | None:
    """A file that is not all UTF-8, as UTF-8 text, when there is UTF-8 in it at all.

    None when no UTF-8 sequence occurs anywhere: the file is plain cp1252 (or latin-1) and
    is read as before. Otherwise the file is read as whichever encoding leaves fewer lines
    out, UTF-8 on a tie; the count of lines that are not UTF-8 is an estimate (a cp1252
    text almost always shows itself by a lead byte with no continuation byte after it, or
    a continuation byte after ASCII), the lines then rejected are found exactly.
    """
    arr = np.frombuffer(raw, dtype=np.uint8)
    non_ascii = np.flatnonzero(arr >= 0x80)
    follow = non_ascii[arr[non_ascii] < 0xC0]
    # Every UTF-8 sequence has a continuation byte right after its lead; cp1252 text has few
    # bytes in that range (quotes, dashes, symbols), so the candidates are few.
    leads = follow[follow > 0] - 1
    sequences = _utf8_sequences(arr, leads[arr[leads] >= 0xC2])
    if not len(sequences):
        return None
    ending = _ending(raw)
    breaks = np.flatnonzero(arr == ending)
    utf8_lines = _distinct(np.searchsorted(breaks, sequences))
    others = _not_utf8(arr, non_ascii[arr[non_ascii] >= 0xC0], follow)
    other_lines = _distinct(np.sort(np.searchsorted(breaks, others)))
    if len(other_lines) <= len(utf8_lines):
        return utf8_except(raw, "utf-8")
    return _cp1252_except(raw, breaks, utf8_lines)


def utf8_except(raw: bytes, name: str) -> tuple[bytes, Mixed]:
    """UTF-8 text in which the lines that are not valid UTF-8 are decoded as best they read."""
    ending = bytes([_ending(raw)])
    pieces: list[bytes] = []
    offsets: list[int] = []
    size = position = 0
    while (bad := _first_not_utf8(raw, position)) is not None:
        found = raw.rfind(ending, position, bad)
        start = position if found < 0 else found + 1
        end = raw.find(ending, bad)
        end = len(raw) if end < 0 else end
        pieces.append(raw[position:start])
        size += start - position
        offsets.append(size + bad - start)
        guess = best_guess(raw[start:end]).encode("utf-8")
        pieces.append(guess)
        size += len(guess)
        position = end
    pieces.append(raw[position:])
    return b"".join(pieces), Mixed(name, "cp1252", np.asarray(offsets, dtype=np.int64))


def best_guess(text: bytes) -> str:
    """Bytes as a person would read them: UTF-8 sequences as UTF-8, other bytes as cp1252."""
    return _ESCAPED.sub(
        lambda m: _single_byte(bytes(ord(c) - 0xDC00 for c in m.group())),
        text.decode("utf-8", errors="surrogateescape"),
    )


def _cp1252_except(raw: bytes, breaks: np.ndarray, utf8_lines: np.ndarray) -> tuple[bytes, Mixed]:
    """cp1252 text (latin-1 if some byte is not cp1252) except the lines holding UTF-8."""
    starts = np.where(utf8_lines > 0, breaks[np.maximum(utf8_lines - 1, 0)] + 1, 0).tolist()
    ends = np.append(breaks, len(raw))[utf8_lines].tolist()
    codec = "cp1252"
    try:
        data, offsets = _rebuild(raw, starts, ends, codec)
    except UnicodeDecodeError:
        codec = "latin-1"
        data, offsets = _rebuild(raw, starts, ends, codec)
    return data, Mixed(codec, "utf-8", offsets)


def _rebuild(
    raw: bytes, starts: list[int], ends: list[int], codec: str
) -> tuple[bytes, np.ndarray]:
    """The stretches between the given lines decoded from ``codec``, the lines as they read.

    A line's first non-ASCII byte is where it stops being plain ``codec``; what comes
    before it is ASCII, the same in the output.
    """
    pieces: list[bytes] = []
    offsets: list[int] = []
    size = previous = 0
    for start, end in zip(starts, ends, strict=True):
        stretch = raw[previous:start].decode(codec).encode("utf-8")
        line = raw[start:end]
        offsets.append(size + len(stretch) + _first_high(line))
        guess = best_guess(line).encode("utf-8")
        pieces += [stretch, guess]
        size += len(stretch) + len(guess)
        previous = end
    pieces.append(raw[previous:].decode(codec).encode("utf-8"))
    return b"".join(pieces), np.asarray(offsets, dtype=np.int64)


def _utf8_sequences(arr: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Where a lead byte is followed by as many continuation bytes as it announces."""
    value = arr[high]
    need = np.select(
        [
            (value >= 0xC2) & (value <= 0xDF),
            (value >= 0xE0) & (value <= 0xEF),
            (value >= 0xF0) & (value <= 0xF4),
        ],
        [1, 2, 3],
        0,
    )
    ok = need > 0
    last = len(arr) - 1
    for step in (1, 2, 3):
        at = high + step
        byte = arr[np.minimum(at, last)]
        ok &= (need < step) | ((at <= last) & (byte >= 0x80) & (byte < 0xC0))
    return high[ok]


def _not_utf8(arr: np.ndarray, high: np.ndarray, follow: np.ndarray) -> np.ndarray:
    """Bytes that cannot be UTF-8 where they are (not all of them: for counting lines).

    ``high`` are the bytes from 0xC0 up, ``follow`` those from 0x80 to 0xBF: a lead byte
    without a continuation byte after it, or a continuation byte after ASCII. Two sorted
    runs, not merged: the caller sorts what it derives from them.
    """
    last = len(arr) - 1
    after = arr[np.minimum(high + 1, last)]
    value = arr[high]
    lone_lead = (value < 0xC2) | (value > 0xF4) | (high == last) | (after < 0x80) | (after >= 0xC0)
    follow = follow[follow > 0]
    return np.concatenate([high[lone_lead], follow[arr[follow - 1] < 0x80]])


def _distinct(ordered: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array (numpy's unique hashes, slower on millions)."""
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def _first_not_utf8(raw: bytes, position: int) -> int | None:
    """Where the first byte from ``position`` on that is not valid UTF-8 is, if any.

    Decoded in slices cut after a newline, which never splits a UTF-8 sequence, read
    through a memoryview so that no slice is copied.
    """
    view = memoryview(raw)
    while position < len(raw):
        cut = raw.find(b"\n", position + _STEP)
        end = len(raw) if cut < 0 else cut + 1
        try:
            codecs.utf_8_decode(view[position:end], "strict", True)
        except UnicodeDecodeError as exc:
            return position + exc.start
        position = end
    return None


def _first_high(line: bytes) -> int:
    for index, byte in enumerate(line):
        if byte >= 0x80:
            return index
    return 0


def _ending(raw: bytes) -> int:
    """The byte that ends lines: LF, or CR in a classic Mac file that has no LF at all."""
    return 10 if b"\n" in raw else 13


def _single_byte(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")
