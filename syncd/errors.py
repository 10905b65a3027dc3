"""Every exception syncd raises on purpose, grouped by what the caller should do.

    SyncdError
    ├── ConfigError           the configuration is wrong: stop, tell the user the key and file
    ├── SourceFileError       the HRIS file as a whole is unusable: stop the run, change nothing
    ├── RowRejected           one HRIS row is bad: quarantine it, carry on with the rest
    ├── StateError            the state database is missing, too old or inconsistent
    ├── SafeguardTripped      the plan is refused as a whole: enqueue nothing
    └── VendorError           an LMS call failed; the subclass says what to do
        ├── Retryable         try again later (429/503/5xx, timeouts); carries retry_after
        │   └── RateLimited   the vendor said we went too fast: pause the whole credential
        ├── Conflict          it already exists: look it up and adopt it, never create twice
        ├── Permanent         the vendor refused for a reason that will not change: dead-letter
        ├── CredentialRefused the vendor refused the credential itself: stop, every op would fail
        └── TlsFailure        the server's certificate or TLS handshake was refused: stop too

Exceptions carry structured fields for the log (``fields``), never secrets: callers pass
only identifiers, paths and reasons, and ``str()`` of any of them is safe to print.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """How `syncd plan` and `syncd reconcile` end (the README's exit-code table), defined
    once here so the two commands cannot drift apart. With several connections the most
    serious ending wins: ERROR, REFUSED, HELD, DEAD, WAITING, PENDING (plan only), SKIPPED,
    OK.
    ``validate`` reads two of the numbers its own way (ROWS_REJECTED, FILE_UNUSABLE)."""

    OK = 0
    ERROR = 1
    PENDING = 2
    """plan: changes pending (nothing was changed)."""
    REFUSED = 3
    """A safeguard refused the plan; nothing was enqueued."""
    DEAD = 4
    """reconcile: finished with dead-lettered or blocked ops."""
    WAITING = 5
    """reconcile: finished with retries still waiting."""
    SKIPPED = 6
    """People the export wants in the LMS are not, or absent people were not deactivated
    (``Plan.skipped``, with reasons), and nothing above applies: a cron job must notice."""
    HELD = 7
    """reconcile: risky ops are held for an operator (`syncd held`); the rest went out."""

    ROWS_REJECTED = 1
    """validate: some rows were rejected (the same number as ERROR)."""
    FILE_UNUSABLE = 2
    """validate: the file cannot be used at all (the same number as PENDING)."""

    @classmethod
    def most_serious(cls, codes: Iterable[int]) -> ExitCode:
        """With several connections, the ending the command reports (see the class)."""
        seen = set(codes)
        return next((code for code in _SEVERITY if code in seen), cls.OK)


_SEVERITY = (
    ExitCode.ERROR,
    ExitCode.REFUSED,
    ExitCode.HELD,
    ExitCode.DEAD,
    ExitCode.WAITING,
    ExitCode.PENDING,
    ExitCode.SKIPPED,
)


class SyncdError(Exception):
    """Base of every deliberate syncd error; ``fields`` go to the structured log."""

    exit_code: int = 1

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __str__(self) -> str:
        return self.message


class ConfigError(SyncdError):
    """The configuration file is invalid; the message names the file and the key."""


class SourceFileError(SyncdError):
    """The HRIS export cannot be used at all (missing, empty, binary, no required column).

    Exit 1 like any error; `syncd validate` answers 2, its own code for "the file is
    unusable" (for `syncd plan`, 2 means "changes pending").
    """


class RowRejected(SyncdError):
    """One row of the export is invalid; it is quarantined and the rest proceeds."""

    def __init__(
        self, message: str, *, line: int, column: str | None = None, **fields: Any
    ) -> None:
        super().__init__(message, line=line, column=column, **fields)
        self.line = line
        self.column = column


class StateError(SyncdError):
    """The state database is unreachable, not upgraded, or inconsistent."""


class SafeguardTripped(SyncdError):
    """A safeguard refused the plan; ``limit`` names it, ``fields`` carry the numbers."""

    exit_code = ExitCode.REFUSED

    def __init__(self, message: str, *, limit: str, **fields: Any) -> None:
        super().__init__(message, limit=limit, **fields)
        self.limit = limit


class VendorError(SyncdError):
    """An LMS API call failed; ``status`` is the HTTP status when there was an answer."""

    def __init__(self, message: str, *, status: int | None = None, **fields: Any) -> None:
        super().__init__(message, status=status, **fields)
        self.status = status


class Retryable(VendorError):
    """Worth retrying later; ``retry_after`` (seconds) is the vendor's hint when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message, status=status, retry_after=retry_after, **fields)
        self.retry_after = retry_after


class RateLimited(Retryable):
    """The vendor rejected us for going too fast: the whole credential must pause."""


class Conflict(VendorError):
    """The object already exists remotely; the caller looks it up and adopts it."""


class Permanent(VendorError):
    """The vendor refused for a reason retrying will not fix; the op is dead-lettered."""


class CredentialRefused(VendorError):
    """The vendor refused the API key or its access level, not one op: the drain stops.

    Dead-lettering would refuse every op of the plan, one call each, and keep them dead
    after the key is fixed; stopping leaves them pending for the run after the fix.
    """


class TlsFailure(VendorError):
    """The TLS handshake with the vendor failed for good (an untrusted or expired
    certificate, a hostname mismatch, https to a plain-http port): the drain stops.

    Every request would fail the same way and retrying cannot fix a certificate, so, as
    with ``CredentialRefused``, the ops stay pending for the run after the fix. ``host``
    names the server and the message the reason, e.g. "certificate verify failed:
    self-signed certificate".
    """
