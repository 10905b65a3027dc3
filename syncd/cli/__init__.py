"""The `syncd` command line: one thin module per command group, each over one stage function.

Only this package imports typer and rich. Every command module exposes
``register(app)``; ``main()`` turns a deliberate :class:`~syncd.errors.SyncdError` into a
plain one-line message and its exit code instead of a traceback. Every command prints
through :mod:`syncd.cli.console` (secrets masked, no wrapping when not a terminal, user
text never read as markup or emoji).
"""

from __future__ import annotations

import sys

import typer

from syncd.cli import (
    apply,
    config_cmd,
    db,
    explain,
    held,
    plan,
    queue,
    reconcile,
    results,
    run,
    sandbox,
    status,
    undo,
    validate,
)
from syncd.cli.console import error
from syncd.errors import SyncdError

app = typer.Typer(
    name="syncd",
    help="Keep learning platforms in step with HRIS CSV exports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (
    config_cmd,
    db,
    validate,
    sandbox,
    plan,
    reconcile,
    queue,
    held,
    results,
    run,
    status,
):
    _module.register(app)
explain.register(app)
apply.register(app)
undo.register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SyncdError as exc:
        error(str(exc))
        sys.exit(exc.exit_code)
