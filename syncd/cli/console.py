"""The consoles every command prints through, so that all output follows the same rules.

- Secrets: every line written goes through the log redactor (:func:`syncd.log.redact_output`),
  which knows every value the configuration took from ``${ENV}`` and masks passwords in
  URLs; a secret that slips into a message or a table cell is still never shown.
- Not a terminal (a pipe, a file, cron's mail): nothing is hard-wrapped at a fixed width,
  so one line stays one line and long paths and op ids are never cut; tables are as wide
  as their content. On a terminal, output fits the terminal as usual.
- User text is never interpreted: emoji codes are off everywhere (``root:x:0:0`` stays
  itself), and values from files, the configuration or the vendor are passed through
  :func:`plain` (or given as :class:`rich.text.Text`) so that ``[...]`` is not markup.
"""

from __future__ import annotations

import io
import sys
from typing import IO, TextIO, cast

from rich.console import Console
from rich.markup import escape

from syncd.log import redact_output

_UNBOUNDED = 1_000_000
"""The width given to a console that is not a terminal: in effect, no wrapping at all."""


class _RedactingStream(io.TextIOBase):
    """Standard output or error, as it is when the stream is made, with secrets masked in
    everything written.

    Bound once, not looked up at each write: a live display (`syncd reconcile` on a
    terminal) replaces ``sys.stderr`` with a proxy that prints through this very console,
    which would then write to itself.
    """

    def __init__(self, *, stderr: bool) -> None:
        super().__init__()
        self.target: TextIO = sys.stderr if stderr else sys.stdout

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        self.target.write(redact_output(text))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()


def console(*, stderr: bool = False) -> Console:
    """A console on standard output (or error) that follows the module's rules."""
    stream = _RedactingStream(stderr=stderr)
    terminal = stream.isatty()
    return Console(
        file=cast(IO[str], stream),
        emoji=False,
        highlight=False,
        soft_wrap=not terminal,
        width=None if terminal else _UNBOUNDED,
    )


def plain(value: object) -> str:
    """A value from a file, the configuration or a vendor, safe to put in markup."""
    return escape(str(value))


def echo(text: str) -> None:
    """Write machine-readable text (JSON) to standard output as is, secrets masked."""
    _RedactingStream(stderr=False).write(text + "\n")


def error(message: str) -> None:
    """The one line a failed command leaves on standard error."""
    console(stderr=True).print(f"[bold red]error:[/] {plain(message)}")
