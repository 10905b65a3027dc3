"""`syncd run`: the long-running service (scheduler, graceful stop, SIGHUP reload,
sd_notify, replicas on PostgreSQL); :mod:`syncd.service.service` does the work.

The configuration is checked before anything starts: a bad one ends the command with
its one plain error and exit code 1, as every command does.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from syncd import config as config_mod
from syncd.cli.options import ConfigOption
from syncd.errors import ConfigError
from syncd.log import configure


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        config: ConfigOption,
        http: Annotated[
            str | None,
            typer.Option(
                "--http",
                help="Serve health, metrics and status on HOST:PORT (port 0: any free one); "
                "overrides service.http.",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Run as a service: sync, drain and pull results on schedule until stopped."""
        from syncd.service.service import Service

        if http is not None:
            try:
                config_mod.split_address(http)
            except ValueError as exc:
                raise ConfigError(f"--http: {exc}") from None
        cfg = config_mod.load(config, runs_service=True)
        configure(cfg.logging.level, cfg.logging.format)
        service = Service(config, cfg, http=http)
        code = service.run()
        if service.abandoned:
            # At the process's edge, never in the library: the scheduler's worker threads
            # still hold runs the outbox will release at the next start, and a normal exit
            # would wait for them.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        raise typer.Exit(code)
