"""Start a simulator as a real server in one call: the shape tests and the CLI both need."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from starlette.applications import Starlette

from syncd.sandbox import create_simulator
from syncd.sandbox.admin import AdminClient
from syncd.sandbox.core import SandboxState, Simulator, build_app
from syncd.sandbox.ratelimit import Clock
from syncd.sandbox.server import SandboxServer


@dataclass
class RunningSandbox:
    """A started simulator: where it listens, what credentials it takes, its admin handle."""

    simulator: Simulator
    app: Starlette
    server: SandboxServer
    admin: AdminClient | None = field(default=None)

    @property
    def name(self) -> str:
        return self.simulator.name

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def credentials(self) -> Mapping[str, str]:
        """The fixed demo credentials this simulator accepts (not secrets)."""
        return self.simulator.credentials

    @property
    def state(self) -> SandboxState:
        """In-process access to the limiter, faults and recorder (tests may prefer ``admin``)."""
        state: SandboxState = self.app.state.sandbox
        return state

    def stop(self) -> None:
        if self.admin is not None:
            self.admin.close()
        self.server.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_sandbox(
    vendor: str | Simulator,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    admin: bool = True,
    clock: Clock = time.monotonic,
) -> RunningSandbox:
    """Build and serve ``vendor`` (a name from ``SIMULATORS`` or a simulator object)."""
    simulator = create_simulator(vendor) if isinstance(vendor, str) else vendor
    app = build_app(simulator, admin=admin, clock=clock)
    server = SandboxServer(app, host=host, port=port).start()
    client = AdminClient(server.base_url) if admin else None
    return RunningSandbox(simulator=simulator, app=app, server=server, admin=client)
