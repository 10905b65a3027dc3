"""The numpy record scan: where records start, in bytes and physical lines, with quoting.

The scan works in 1 MB chunks and carries the quote parity from one chunk to the next, so
the boundary cases are built here at real chunk edges.
"""

from __future__ import annotations

import numpy as np
import pytest

from syncd.errors import SourceFileError
from syncd.hris import scan as scan_mod
from syncd.hris.scan import exact_records, field_counts, scan, scan_exactly


def texts(buffer: bytes, records: scan_mod.Records) -> list[str]:
    return [buffer[s:e].decode() for s, e in zip(records.starts, records.ends, strict=True)]


def test_plain_records_and_lines():
    buffer = b"h1,h2\na,b\n\nc,d"
    records = scan(buffer)
    assert texts(buffer, records) == ["h1,h2", "a,b", "c,d"]
    assert list(records.lines) == [1, 2, 4]
    assert not records.quoted_newlines and records.balanced


def test_quoted_newlines_and_crlf():
    buffer = b'h1,h2\r\n"x\r\ny",b\r\n"p""q",r\r\n'
    records = scan(buffer)
    assert texts(buffer, records) == ["h1,h2", '"x\r\ny",b', '"p""q",r']
    assert list(records.lines) == [1, 2, 4]
    assert records.quoted_newlines


def test_an_odd_number_of_quotes_is_flagged():
    assert not scan(b'h\n5" x\ny\n').balanced


def test_quote_parity_carries_across_chunk_boundaries():
    chunk = scan_mod._CHUNK
    # A quoted field opening just before the first chunk edge and closing after it, with
    # newlines on both sides of the edge.
    head = b"h1,h2\n"
    pad = b"a," + b"x" * (chunk - len(head) - 10) + b"\n"
    quoted = b'"q\nq\n' + b"y" * 20 + b'\nq",z\n'
    tail = b"c,d\n"
    buffer = head + pad + quoted + tail
    assert len(head + pad) < chunk < len(head + pad + quoted)
    records = scan(buffer)
    assert list(records.lines) == [1, 2, 3, 7]
    assert texts(buffer, records)[2] == quoted[:-1].decode()
    assert list(field_counts(buffer, records, ",")) == [2, 2, 2, 2]


def test_field_counts_ignore_quoted_delimiters():
    buffer = b'a,b,c\n1,"2,3",4\n5,6\n7,8,9,10\n'
    records = scan(buffer)
    assert list(field_counts(buffer, records, ",")) == [3, 3, 2, 4]


def test_exact_records_follow_csv_quoting_and_physical_lines():
    text = 'h1,h2\n5" x,b\n\n"m\nn",c\nlast,d'
    assert list(exact_records(text, ",")) == [
        (1, 1, ["h1", "h2"]),
        (2, 2, ['5" x', "b"]),
        (3, 3, []),
        (4, 5, ["m\nn", "c"]),
        (6, 6, ["last", "d"]),
    ]


def test_scan_exactly_matches_scan_on_well_formed_input():
    buffer = b'h1,h2\r\n"x\r\ny",b\r\n\r\n"p""q",r\r\nlast,z'
    fast, exact = scan(buffer), scan_exactly(buffer, ",")
    for name in ("starts", "ends", "lines"):
        assert np.array_equal(getattr(fast, name), getattr(exact, name)), name
    assert fast.quoted_newlines and exact.quoted_newlines


def test_a_lone_carriage_return_inside_an_unquoted_value_is_a_clear_error():
    with pytest.raises(SourceFileError, match="line 2: not a CSV record"):
        list(exact_records('h1,h2\na\rb,"c\n', ","))
