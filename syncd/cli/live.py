"""What a command that works for a while shares: a clean stop on a signal, and log lines
printed above its live progress display instead of through it."""

from __future__ import annotations

import io
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from rich.console import Console
from rich.text import Text

from syncd.cli.console import console as cli_console
from syncd.config import Config
from syncd.log import configure


class ConsoleStream(io.TextIOBase):
    """A text stream that writes log lines above the live display instead of through it."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def write(self, text: str) -> int:
        if text.strip():
            self.console.print(Text.from_ansi(text.rstrip("\n")), highlight=False)
        return len(text)

    def isatty(self) -> bool:
        return True


@contextmanager
def stoppable() -> Iterator[threading.Event]:
    """SIGTERM, or a first Ctrl-C, stops after the op in flight; a second Ctrl-C aborts."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def logging_beside_progress(config: Config) -> tuple[Console, bool]:
    """Configure logging for a command with a progress display; the stderr console and
    whether it is live (a terminal: logs go above the display, else plain lines)."""
    err = cli_console(stderr=True)
    live = err.is_terminal
    if live:
        configure(config.logging.level, config.logging.format, stream=ConsoleStream(err))
    else:
        configure(config.logging.level, config.logging.format)
    return err, live
