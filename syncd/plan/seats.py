"""The seat budget: creates and reactivations past a connection's licence count wait.

Licences are bought, not conjured: a plan that would take the LMS past them either fails at
the vendor half-way (some vendors refuse the create) or lands an invoice. With
``seats`` configured, the plan forecasts the active users it leaves behind (the active
synced users now, plus its creates and reactivations, minus the deactivations and
deletions that go out with it: held ones free nothing) and holds the creates and
reactivations beyond the budget, last ones first, with the forecast in the reason. Seat
holds are derived (:data:`syncd.plan.hold.DERIVED`): the next plan works them out again,
so once leavers free seats the waiting hires go out by themselves; an operator who buys
the overage approves them (`syncd held approve --check seat_budget`).

Pure: ops, holds and numbers in, a forecast and holds out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from syncd.plan.hold import SEAT_BUDGET, Hold
from syncd.plan.ops import CreateUser, DeactivateUser, DeleteUser, Op, ReactivateUser


@dataclass(frozen=True, slots=True)
class SeatForecast:
    """The licence count, the active users now, after the plan as asked, and the overage
    the held ops avoid."""

    seats: int
    in_use: int
    wanted: int
    overage: int

    @property
    def after(self) -> int:
        """Active users once the ops that go out are done."""
        return self.wanted - self.overage

    def to_dict(self) -> dict[str, int]:
        return {
            "seats": self.seats,
            "in_use": self.in_use,
            "wanted": self.wanted,
            "after": self.after,
            "overage": self.overage,
        }

    @property
    def message(self) -> str:
        return (
            f"seat budget: {self.seats} licences, {self.in_use} active now; this plan would "
            f"make {self.wanted} ({self.overage} over)"
        )


def _takes(op: Op) -> bool:
    return isinstance(op, ReactivateUser) or (isinstance(op, CreateUser) and op.active)


def forecast(
    ops: Sequence[Op], held: Mapping[str, Hold], *, seats: int, in_use: int
) -> tuple[SeatForecast, dict[str, Hold]]:
    """The forecast, and the holds for the creates and reactivations past ``seats`` (the
    last ones in plan order)."""
    going = [op for op in ops if op.key not in held]
    takers = [op for op in going if _takes(op)]
    freed = sum(isinstance(op, DeactivateUser | DeleteUser) for op in going)
    wanted = in_use + len(takers) - freed
    overage = max(0, min(len(takers), wanted - seats))
    found = SeatForecast(seats=seats, in_use=in_use, wanted=wanted, overage=overage)
    waiting = takers[len(takers) - overage :] if overage else []
    reason = f"{found.message}; waits for a free seat"
    return found, {op.key: Hold(check=SEAT_BUDGET, reason=reason) for op in waiting}
