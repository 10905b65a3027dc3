"""`syncd undo RUN_ID`: the inverse of a run, shown as `syncd plan` shows a plan, sent only
with `--apply`.

A thin command over :mod:`syncd.pipeline.undo`. Exit codes: 0 nothing to undo (the run
changed nothing, or everything it changed is already back); 2 an undo is pending (shown,
nothing sent); 1 an unknown run, a run that changes no LMS, or an error. With `--apply`
the exit codes of `syncd reconcile` (0 done, 4 dead ops, 5 retries waiting, ...).
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from syncd.cli.console import console as cli_console
from syncd.cli.console import echo, error
from syncd.cli.live import logging_beside_progress, stoppable
from syncd.cli.options import ROW_ID_MAX, ConfigOption
from syncd.cli.plan import Format, finish_with, plan_json, print_plan
from syncd.config import load
from syncd.errors import ExitCode, SyncdError
from syncd.log import redact

if TYPE_CHECKING:
    from syncd.pipeline.undo import Applied, Undo


def _as_data(undo: Undo, limit: int) -> dict[str, Any]:
    data = plan_json(undo.planned, limit)
    data["undo"] = {
        "run": undo.run.id,
        "kind": undo.run.kind,
        "connection": undo.connection,
        "done": undo.done,
        "undone": len(undo.inverse.undone),
        "skipped": [
            {"subject": x.subject, "kind": x.kind, "reason": x.reason} for x in undo.inverse.skipped
        ],
        "impossible": [
            {"subject": x.subject, "kind": x.kind, "reason": x.reason}
            for x in undo.inverse.impossible
        ],
        "notes": list(undo.inverse.notes),
    }
    return data


def _after(out: Console, undo: Undo, applied: Applied) -> None:
    """What the apply did, and what it means for the next reconcile."""
    from syncd.cli.reconcile import print_summary

    print_summary(out, [applied.result])
    run, result = undo.run.id, applied.result
    if applied.rejected or result.exit_code in (ExitCode.OK, ExitCode.SKIPPED):
        out.print(
            f"run {run} undone by run {result.run_id}; {applied.rejected} of its ops are "
            "marked rejected, so a reconcile over the same export does not make them again. "
            "Fix the export: until it stops asking for these changes, every reconcile keeps "
            "them out of the LMS (`syncd queue list --state rejected` lists them).",
            highlight=False,
            markup=False,
        )
    else:
        out.print(
            f"[yellow]the undo of run {run} did not go through in full[/]: the ops of run "
            f"{run} are not marked; run `syncd undo {run}` again to see what is left",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add `syncd undo` to the app."""

    @app.command("undo")
    def undo_command(
        run_id: Annotated[
            int,
            typer.Argument(
                help="The run to undo (`syncd status` lists runs).", min=1, max=ROW_ID_MAX
            ),
        ],
        config: ConfigOption,
        apply: Annotated[
            bool, typer.Option("--apply", help="Send the inverse plan (default: only show it).")
        ] = False,
        output: Annotated[
            Format, typer.Option("--format", help="`table` for people, `json` for scripts.")
        ] = Format.table,
        limit: Annotated[
            int, typer.Option("--limit", min=0, help="How many ops to show in detail.")
        ] = 20,
    ) -> None:
        """Show the inverse of a run (reactivations, memberships and assignments back, old
        field values restored); send it with --apply.

        Exit code: 0 nothing to undo, 2 undo pending (nothing sent), 1 error; with --apply
        as `syncd reconcile`.
        """
        from syncd.pipeline.undo import UndoRefused, apply_undo, undo_plan

        cfg = load(config)
        try:
            undo = undo_plan(cfg, run_id)
        except UndoRefused as exc:
            error(str(exc))
            raise typer.Exit(ExitCode.ERROR) from None
        except SyncdError as exc:
            error(str(exc))
            raise typer.Exit(ExitCode.ERROR) from None
        if undo.nothing_done:
            echo(
                f"run {run_id} changed nothing in the LMS (no op of it was confirmed): "
                "nothing to undo"
            )
            finish_with(ExitCode.OK)
        out = cli_console()
        if output is Format.json:
            data = _as_data(undo, limit)
        else:
            print_plan(out, undo.planned, limit)
        plan = undo.planned.plan
        if plan.empty:
            if output is Format.json:
                echo(json.dumps(data, indent=2))
            else:
                out.print(
                    f"nothing to undo: what run {run_id} changed is already back, or cannot "
                    "be undone (reasons above)",
                    highlight=False,
                )
            finish_with(ExitCode.OK)
        if not apply:
            if output is Format.json:
                echo(json.dumps(data, indent=2))
            else:
                out.print(
                    f"nothing was sent; `syncd undo {run_id} --apply` sends this undo",
                    highlight=False,
                    markup=False,
                )
            finish_with(ExitCode.PENDING)
        err, live = logging_beside_progress(cfg)
        display = None
        if live and output is not Format.json:
            from syncd.cli.reconcile import RichProgress

            display = RichProgress(err)
        with stoppable() as stop, display.progress if display else nullcontext():
            applied = apply_undo(cfg, undo, progress=display, stop=stop)
        result = applied.result
        if output is Format.json:
            data["applied"] = {
                "run": result.run_id,
                "exit": int(result.exit_code),
                "done": result.drained.done,
                "dead": result.counts["dead"],
                "error": None if result.error is None else redact(result.error),
                "refusal": result.refusal,
                "rejected": applied.rejected,
            }
            echo(json.dumps(data, indent=2))
        else:
            _after(out, undo, applied)
        finish_with(result.exit_code)
