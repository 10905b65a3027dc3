"""The command-line options several commands share, declared once so they read alike."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from syncd.errors import ConfigError

ROW_ID_MAX = 2**31 - 1
"""The largest id a row of the state database can have (PostgreSQL's INTEGER): a larger
number is refused as an argument before a query overflows on it."""

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The TOML configuration file.", show_default=False)
]
ConnectionOption = Annotated[
    str | None, typer.Option("--connection", help="Only this connection (default: all).")
]
TodayOption = Annotated[
    str | None,
    typer.Option(
        "--today",
        help="Plan as of this date (YYYY-MM-DD) for grace periods and hire-date rules.",
    ),
]


def as_of(today: str | None) -> date:
    """The date a plan is made for: ``--today`` when given (to replay a day), else today."""
    if not today:
        return date.today()
    try:
        return date.fromisoformat(today)
    except ValueError:
        raise ConfigError(f"--today {today!r} is not a date (YYYY-MM-DD)") from None


AcceptFileOption = Annotated[
    list[str] | None,
    typer.Option(
        "--accept-file",
        metavar="CHECK",
        help=(
            "Pass one integrity check of the export for this run (repeatable): manifest, "
            "stale, same_file, header, encoding, delimiter, empty_share."
        ),
        show_default=False,
    ),
]


def accepted_checks(names: list[str] | None) -> frozenset[str]:
    """``--accept-file`` values as a set; an unknown check name is a ConfigError."""
    from syncd.plan.integrity import CHECKS

    given = frozenset(names or ())
    unknown = sorted(given - set(CHECKS))
    if unknown:
        raise ConfigError(
            f"--accept-file {', '.join(unknown)}: not an integrity check (have: "
            f"{', '.join(CHECKS)})"
        )
    return given
