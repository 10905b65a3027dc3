"""Files a user names are read only when they are regular files: a FIFO, a device, a
socket or a directory is refused before a byte is read (never a hang)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from syncd.files import IrregularFile, read_regular


def test_a_regular_file_is_read_whole_or_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b"0123456789")
    assert read_regular(path)[0] == b"0123456789"
    raw, stat = read_regular(path, limit=4)
    assert raw == b"01234" and stat.st_size == 10


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    with pytest.raises(IrregularFile) as caught:
        read_regular(fifo)
    assert caught.value.what == "a named pipe (FIFO)"
    assert str(caught.value) == f"{fifo}: is a named pipe (FIFO), not a regular file"


def test_directories_and_sockets_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(IrregularFile) as caught:
        read_regular(folder)
    assert caught.value.what == "a directory"
    path = tmp_path / "socket"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        with pytest.raises(IrregularFile) as caught:
            read_regular(path)
    assert caught.value.what == "a socket"


def test_a_device_is_refused() -> None:
    with pytest.raises(IrregularFile) as caught:
        read_regular(Path("/dev/zero"))
    assert caught.value.what == "a character device"


def test_a_missing_file_is_the_system_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "nope")
