"""Fixtures of the end-to-end tests: a test's world on the Litmos sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.sandbox import create_simulator
from syncd.sandbox.admin import AdminClient
from syncd.sandbox.core import build_app
from syncd.sandbox.running import RunningSandbox
from syncd.sandbox.server import SandboxServer
from tests.e2e.kit import KillSwitch, World, make_setup, shown, world_at


@pytest.fixture
def world(litmos_sandbox, db_url, tmp_path):
    def build(rows, **kwargs):
        return make_setup(litmos_sandbox, tmp_path, db_url, rows, **kwargs)

    return build


@pytest.fixture
def killable(db_url, tmp_path):
    """A Litmos sandbox behind a :class:`KillSwitch`, and a world built on it."""
    simulator = create_simulator("litmos")
    app = build_app(simulator)
    switch = KillSwitch(app)
    server = SandboxServer(switch).start()
    sandbox = RunningSandbox(simulator, app, server, AdminClient(server.base_url))
    try:
        yield lambda rows, **kw: make_setup(sandbox, tmp_path, db_url, rows, **kw), switch
    finally:
        sandbox.stop()


@pytest.fixture
def synced(tmp_path: Path) -> World:
    """A company of 24 after a completed first sync through `syncd reconcile`."""
    world = world_at(tmp_path)
    proc = world.syncd("reconcile")
    assert proc.returncode == 0, shown(proc)
    return world
