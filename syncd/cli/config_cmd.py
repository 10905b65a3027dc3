"""`syncd config check FILE` and `syncd config reference`: validate, resolve and document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.syntax import Syntax

from syncd import config as config_mod
from syncd.config_reference import markdown
from syncd.log import redact

config_app = typer.Typer(help="Work with the configuration file.", no_args_is_help=True)


@config_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="The TOML configuration file.")],
    output: Annotated[
        str, typer.Option("--format", help="`json` for machines, `pretty` for people.")
    ] = "pretty",
) -> None:
    """Validate FILE (every problem listed with its key) and print the resolved config."""
    cfg = config_mod.load(file)
    data = cfg.model_dump(mode="json", by_alias=True)
    data["state"]["url"] = redact(data["state"]["url"])
    text = json.dumps(data, indent=2, sort_keys=False)
    console = Console()
    if output == "json":
        console.print_json(text)
        return
    console.print(f"[green]ok[/]: {file} is valid; resolved configuration (secrets masked):")
    console.print(Syntax(text, "json", word_wrap=True))


@config_app.command("reference")
def reference() -> None:
    """Print every configuration key with its type, default and meaning (Markdown)."""
    typer.echo(markdown(), nl=False)


def register(app: typer.Typer) -> None:
    """Add `syncd config ...`."""
    app.add_typer(config_app, name="config")
