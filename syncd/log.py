"""Logging: structlog, JSON lines for machines, readable lines for people, secrets masked.

Redaction is a processor in the chain, so it runs on every event whatever the caller
passed: values under sensitive keys (``api_key``, ``password``, ``token``, ...), every
secret value the configuration registered at load (every value taken from ``${ENV}``,
every credential, every URL password) wherever it appears inside any string, and
secret-looking patterns (``apikey=...`` in URLs, Litmos ``loginkey=`` auto-login links,
``Bearer``/``Basic`` credentials, passwords in URLs). ``redact()`` is the same masking for
text that does not go through the logger (exception messages, reports);
``redact_output()`` is the one every line a command prints goes through
(``syncd.cli.console``).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, MutableMapping
from typing import Any, Protocol, TextIO, cast

import structlog

MASK = "***"

_SENSITIVE_KEY = re.compile(
    r"api[_-]?key|secret|passw(or)?d|token|login[_-]?key|authorization|credential|cookie",
    re.IGNORECASE,
)
_SECRET_NAME = (
    r"(?i)\b(api[_-]?key|loginkey|access_token|refresh_token|token|secret(?:_?key)?"
    r"|password|client_secret)"
)
_VALUE = r"(\"?)[^&\s\"',;}]+"
_ASSIGNED = (re.compile(_SECRET_NAME + r"(\s*[=:]\s*)" + _VALUE), rf"\1\2\3{MASK}")
_ASSIGNED_IN_PROSE = (re.compile(_SECRET_NAME + r"(\s*=\s*|:(?=\S))" + _VALUE), rf"\1\2\3{MASK}")
_OTHER_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {MASK}"),
    (re.compile(r"(://[^:/@\s]+):[^@/\s]+@"), rf"\1:{MASK}@"),
)


class Redactor:
    """Masks secrets in log events; knows the configured secret values once registered."""

    def __init__(self) -> None:
        self._values: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add_secrets(self, values: Iterable[str]) -> None:
        """Register plain secret values (from the config) to be masked wherever they appear.

        Longest first, so that a secret containing another is masked whole.
        """
        with self._lock:
            known = set(self._values) | {v for v in values if v and len(v) >= 4}
            self._values = tuple(sorted(known, key=len, reverse=True))

    def text(self, value: str, *, prose: bool = False) -> str:
        """``value`` with secrets masked. ``prose`` is for text shown to people, where
        ``credentials.api_key: environment variable ... is not set`` names a key in a
        sentence: only ``name=value`` (or ``name:value``, no space) is read as a secret."""
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, MASK)
        for pattern, replacement in (_ASSIGNED_IN_PROSE if prose else _ASSIGNED, *_OTHER_PATTERNS):
            value = pattern.sub(replacement, value)
        return value

    def value(self, value: Any, key: str | None = None) -> Any:
        """``value`` with secrets masked; everything under a sensitive key is masked, the
        names inside a masked mapping kept (which credentials are set is not a secret)."""
        if key is not None and _SENSITIVE_KEY.search(key):
            return self._masked(value)
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        if isinstance(value, BaseException):
            return self.text(str(value))
        return value

    def _masked(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._masked(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._masked(v) for v in value]
        return value if value in (None, "", False) else MASK

    def __call__(
        self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            event_dict[key] = self.value(event_dict[key], None if key == "event" else key)
        return event_dict


REDACTOR = Redactor()


def redact(text: str) -> str:
    """Mask secrets in any text that leaves the process outside the logger."""
    return REDACTOR.text(text)


def redact_output(text: str) -> str:
    """Mask secrets in what a command prints for people (see :meth:`Redactor.text`)."""
    return REDACTOR.text(text, prose=True)


class LogStream(Protocol):
    """Where log lines go: a standard stream, or a live display's console that writes
    them above its bars (``syncd.cli.reconcile``)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...

    def isatty(self) -> bool: ...


def configure(level: str = "info", fmt: str = "auto", stream: LogStream | None = None) -> None:
    """Set up structlog (and route stdlib logging through the same masking)."""
    stream = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and stream.isatty())
    numeric = logging.getLevelNamesMapping()[level.upper()]
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        REDACTOR,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # One write() per line, as the stdlib handler below makes: print() writes the text
        # and its newline apart, and a library's record (apscheduler, uvicorn) written from
        # another thread in between glued two JSON lines into one no collector can read.
        # structlog annotates its file as TextIO but only writes to and flushes it.
        logger_factory=structlog.WriteLoggerFactory(cast(TextIO, stream)),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # httpx logs full URLs at INFO; our own request log in syncd.http is the redacted one.
    for noisy in ("httpx", "httpcore", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str | None = None, **bound: Any) -> Any:
    """A structlog logger; ``bound`` fields appear on every event it writes."""
    return structlog.get_logger(name, **bound)
