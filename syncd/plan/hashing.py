"""The row hash that lets the diff skip unchanged people without reading their attributes.

One definition, two implementations that must agree: :func:`hash_attrs` for one mirror row
(the worker calls it after every confirmed change) and :func:`hash_frame` for a whole
desired state at once. Both hash the same text,

    external_id US match_value US value US value ...   (values in field-name order)

with pandas' SipHash (``hash_array`` over the UTF-8 bytes), keyed by a digest of the sorted
field names, so the names count without being repeated on every row. SipHash with a fixed
key is stable across processes and machines.

Because the key and the match value are part of the text, an equal hash identifies the
same person with the same account and attributes, so the diff can pair unchanged rows by
one integer lookup instead of joining on strings.

The same 64-bit hashes stand in for composite keys in the diff's set operations (a
membership is the hash of its group key and person); a collision has a probability of
about n^2 / 2^65, negligible for millions of rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.util import hash_array

US = "\x1f"


DEFAULT_KEY = "0123456789123456"


def _key(names: Iterable[str]) -> str:
    """A 16-character SipHash key naming the (sorted) fields a hash covers."""
    return hashlib.sha256(US.join(sorted(names)).encode("utf-8")).hexdigest()[:16]


def _hash_bytes(texts: np.ndarray, key: str = DEFAULT_KEY) -> np.ndarray:
    """SipHash of each bytes object (hashing bytes skips a decode and re-encode per row)."""
    if not len(texts):
        return np.zeros(0, dtype=np.uint64)
    return np.asarray(hash_array(texts, categorize=False, hash_key=key))


def hash_attrs(external_id: str, match_value: str, attrs: Mapping[str, str]) -> str:
    """The ``attrs_hash`` of one mirror user row."""
    names = sorted(attrs)
    text = US.join([external_id, match_value, *(str(attrs[n]) for n in names)])
    hashed = _hash_bytes(np.array([text.encode("utf-8")], dtype=object), _key(names))
    return str(hashed[0])


def _large(values: pd.Series | pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """Arrow large_string, nulls as "" (a missing text hashes like an empty one)."""
    if isinstance(values, pd.Series):
        array = pa.array(values.astype("str").fillna(""), pa.large_string())
    else:
        array = values
    if isinstance(array, pa.Array):
        array = pa.chunked_array([array], type=array.type)
    array = array.cast(pa.large_string())
    return pc.fill_null(array, "") if array.null_count else array


Column: TypeAlias = pd.Series | pa.ChunkedArray | pa.Array


CHUNK = 1 << 17
"""Rows hashed at a time: the joined texts and their bytes objects of a whole roster would
add hundreds of megabytes to the peak for a million people."""


def hash_columns(*columns: Column | pa.Scalar, key: str = DEFAULT_KEY) -> np.ndarray:
    """uint64 hash per row of the columns joined by US (scalars repeat on every row)."""
    parts = [c if isinstance(c, pa.Scalar) else _large(c) for c in columns]
    arrays = [p for p in parts if not isinstance(p, pa.Scalar)]
    rows = len(arrays[0]) if arrays else 0
    hashed = np.zeros(rows, dtype=np.uint64)
    separator = pa.scalar(US, pa.large_string())
    for start in range(0, rows, CHUNK):
        piece = [p if isinstance(p, pa.Scalar) else p.slice(start, CHUNK) for p in parts]
        joined = piece[0] if len(piece) == 1 else pc.binary_join_element_wise(*piece, separator)
        as_bytes = joined.cast(pa.large_binary()).to_numpy(zero_copy_only=False)
        hashed[start : start + len(as_bytes)] = _hash_bytes(as_bytes, key)
    return hashed


def hash_frame(external_id: Column, match_value: Column, attrs: Mapping[str, Column]) -> np.ndarray:
    """``hash_attrs`` of every row at once, as uint64 (same values, not yet as text)."""
    names = sorted(attrs)
    return hash_columns(external_id, match_value, *(attrs[n] for n in names), key=_key(names))


def hashes_to_text(hashes: np.ndarray) -> list[str]:
    """uint64 hashes in the text form ``attrs_hash`` is stored in."""
    return [str(h) for h in hashes.tolist()]


def parse_hashes(values: Sequence[object] | pd.Series) -> np.ndarray:
    """Stored ``attrs_hash`` texts as uint64; a missing or malformed one becomes 0 (no match)."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="str")
    array = pa.array(series.astype("str").fillna(""), type=pa.large_string())
    cleaned = pc.if_else(pc.equal(array, ""), pa.scalar("0", pa.large_string()), array)
    try:
        return np.asarray(pc.cast(cleaned, pa.uint64()).to_numpy(zero_copy_only=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return np.array([_parse_one(v) for v in cleaned.to_pylist()], dtype=np.uint64)


def _parse_one(value: str) -> int:
    text = value.strip()
    if not text.isdigit():
        return 0
    number = int(text)
    return number if number < 2**64 else 0
