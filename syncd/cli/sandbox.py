"""`syncd sandbox`: run the vendor simulators on loopback until Ctrl-C or SIGTERM."""

from __future__ import annotations

import json
import signal
import threading
import tomllib
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from syncd.cli.console import console as make_console
from syncd.errors import ConfigError

SEED_FORMAT = """\
Seed file: JSON (or TOML, by the .toml suffix) with one section per vendor, loaded before
serving; a bad file stops the command with the file and entry at fault. Litmos section:
{"litmos": {"courses": [{"code", "name", "modules": [{"name", "code", "passmark"}]}],
"learning_paths": [{"name", "courses": [codes]}], "teams": [{"name", "description",
"parent": name}], "users": [{"username", "first_name", "last_name", "email", "active",
"access_level", "external_id", "created", "teams": [names], "leader_of": [names],
"courses": [codes], "learning_paths": [names]}], "api_keys": [{"key", "access_level"}]}}.
The "scormcloud" and "enabley" sections follow those simulators' seed formats."""


class Vendor(StrEnum):
    litmos = "litmos"
    scormcloud = "scormcloud"
    enabley = "enabley"
    all = "all"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    # Rich would read the format's brackets as markup: escape them.
    epilog = " ".join(SEED_FORMAT.split()).replace("[", "\\[")
    app.command(name="sandbox", help=_HELP, epilog=epilog)(sandbox)


_HELP = """Run faithful simulators of the vendor APIs on loopback, to try syncd without
vendor credentials. Prints each base URL and the fixed demo credentials to use; stops
cleanly on Ctrl-C or SIGTERM. The /_sandbox admin API (seed data, learner activity, fault
injection, request log) is off unless --admin is given."""


def sandbox(
    vendor: Annotated[Vendor, typer.Option(help="Which simulator to run.")] = Vendor.all,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="First port; the next use N+1, N+2 (0 = free ports).")
    ] = 8700,
    seed: Annotated[
        Path | None, typer.Option(help="Data to load first (format below).", dir_okay=False)
    ] = None,
    admin: Annotated[
        bool, typer.Option("--admin/--no-admin", help="Mount the /_sandbox admin API.")
    ] = False,
) -> None:
    from syncd.sandbox import SIMULATORS, available, create_simulator
    from syncd.sandbox.running import RunningSandbox, start_sandbox

    console = make_console()
    names = list(SIMULATORS) if vendor is Vendor.all else [vendor.value]
    ready = available()
    missing = [name for name in names if name not in ready]
    if vendor is not Vendor.all and missing:
        raise ConfigError(f"the {vendor.value} simulator is not available in this build")
    for name in missing:
        console.print(f"[yellow]skipped[/] {name}: simulator not available in this build")
    names = [name for name in names if name in ready]
    data = _read_seed(seed) if seed else {}
    unknown = set(data) - set(SIMULATORS)
    if unknown:
        raise ConfigError(f"{seed}: unknown vendor section(s) {', '.join(sorted(unknown))}")
    simulators = []
    for name in names:
        simulator = create_simulator(name)
        if name in data:
            try:
                simulator.seed(data[name])
            except (ValueError, TypeError, KeyError) as exc:
                raise ConfigError(f"{seed}: {exc}") from None
        simulators.append(simulator)
    running: list[RunningSandbox] = []
    stop = threading.Event()
    try:
        for offset, simulator in enumerate(simulators):
            try:
                running.append(
                    start_sandbox(
                        simulator, host=host, port=port + offset if port else 0, admin=admin
                    )
                )
            except OSError as exc:
                raise ConfigError(str(exc)) from None
        for item in running:
            root = getattr(item.simulator, "api_root", "")
            console.print(f"[bold]{item.name}[/] {item.base_url}{root}", highlight=False)
            for key, value in item.credentials.items():
                console.print(f"  {key}: {value}", highlight=False)
            if admin:
                console.print(f"  admin: {item.base_url}/_sandbox/", highlight=False)
        console.print("Ctrl-C or SIGTERM stops the sandbox.", highlight=False)

        def _stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        stop.wait()
    finally:
        for item in running:
            item.stop()
    console.print("sandbox stopped", highlight=False)


def _read_seed(path: Path) -> dict[str, Any]:
    """The seed file as a dict of vendor sections; ConfigError names the file and problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read seed file ({exc.strerror})") from None
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the seed must be an object with one section per vendor")
    return data
