"""`syncd apply PLAN`: send exactly a reviewed plan file (``syncd plan --out``), or refuse.

A thin wrapper over :mod:`syncd.pipeline.saved`: it reads the file, shows each
connection's summary as the reviewer saw it, applies, and reports as `syncd reconcile`
does. Refused (exit 3, one line per connection naming what changed, nothing enqueued,
nothing sent): a file that is not a plan of this format or was edited, a connection gone
from the configuration or moved to another vendor, an export changed since, a mirror
that moved on (another run, a drain, a ``--full`` correction), a plan refused when made.
Otherwise the exit codes of `syncd reconcile`.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from syncd import config as config_mod
from syncd.cli.console import console as cli_console
from syncd.cli.console import error
from syncd.cli.live import logging_beside_progress, stoppable
from syncd.cli.options import ConfigOption
from syncd.cli.reconcile import RichProgress, print_summary
from syncd.errors import ExitCode


def apply_command(
    plan_file: Annotated[
        Path, typer.Argument(help="A plan file written by `syncd plan --out`.", dir_okay=False)
    ],
    config: ConfigOption,
    connection: Annotated[
        str | None,
        typer.Option("--connection", help="Apply only this connection's plan from the file."),
    ] = None,
) -> None:
    """Apply a reviewed plan file exactly, with its holds; refuse if anything it was
    computed against changed since (the export, the mirror, the configuration)."""
    from syncd.pipeline.reconcile import exit_code
    from syncd.pipeline.saved import apply_saved, chosen, read_plan
    from syncd.plan.saved import InvalidPlanFile

    try:
        saved = read_plan(plan_file)
    except InvalidPlanFile as exc:
        error(str(exc))
        raise typer.Exit(ExitCode.REFUSED) from None
    cfg = config_mod.load(config)
    entries = chosen(saved, connection)
    out = cli_console()
    out.print(
        f"plan file {plan_file}, made {saved.created_at.isoformat(timespec='seconds')} "
        f"by syncd {saved.syncd_version}",
        markup=False,
        highlight=False,
    )
    for entry in entries:
        for line in entry.summary:
            out.print(line, markup=False, highlight=False)
    err, live = logging_beside_progress(cfg)
    display = RichProgress(err) if live else None
    with stoppable() as stop, display.progress if display else nullcontext():
        results = apply_saved(cfg, entries, source=plan_file, progress=display, stop=stop)
    print_summary(out, results)
    raise typer.Exit(exit_code(results))


def register(app: typer.Typer) -> None:
    """Add `syncd apply`."""
    app.command("apply")(apply_command)
