"""`syncd config check FILE` and `syncd config reference`: validate, resolve and document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from syncd import config as config_mod
from syncd.cli.console import console, echo, plain
from syncd.config_reference import markdown
from syncd.errors import ConfigError
from syncd.log import REDACTOR

config_app = typer.Typer(help="Work with the configuration file.", no_args_is_help=True)


@config_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="The TOML configuration file.")],
    output: Annotated[
        str, typer.Option("--format", help="`json` for machines, `pretty` for people.")
    ] = "pretty",
) -> None:
    """Validate FILE (every problem listed with its key) and print the resolved config.

    Every value is shown as the redactor allows: anything taken from ``${ENV}``, the
    password of any URL and everything under a secret-looking key is masked.
    """
    from syncd.vendors import cautions, unsupported

    cfg = config_mod.load(file)
    problems = unsupported(cfg)
    if problems:
        raise ConfigError(
            f"{file}: the vendors cannot do what this asks:\n  " + "\n  ".join(problems)
        )
    data = REDACTOR.value(cfg.model_dump(mode="json", by_alias=True))
    text = json.dumps(data, indent=2, sort_keys=False)
    if output == "json":
        echo(text)
        return
    out = console()
    for caution in cautions(cfg):
        console(stderr=True).print(f"warning: {caution}", markup=False)
    out.print(f"[green]ok[/]: {plain(file)} is valid; resolved configuration (secrets masked):")
    if out.is_terminal:
        from rich.syntax import Syntax  # pygments, for a terminal only

        out.print(Syntax(text, "json", word_wrap=True))
    else:
        out.print(text, markup=False)


@config_app.command("reference")
def reference() -> None:
    """Print every configuration key with its type, default and meaning (Markdown)."""
    typer.echo(markdown(), nl=False)


def register(app: typer.Typer) -> None:
    """Add `syncd config ...`."""
    app.add_typer(config_app, name="config")
