"""The command-line options several commands share, declared once so they read alike."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from syncd.errors import ConfigError

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
