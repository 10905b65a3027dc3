"""Safeguards: limits that refuse a whole plan before anything is enqueued.

The worst thing a sync daemon can do is deactivate half a company because an export was
truncated, so every plan is measured against the connection's limits (with defaults that
protect a user who configured nothing): deactivations per run, absolute and as a share of
the active synced population; total ops; and the export's size against the last accepted
one. One tripped limit refuses the plan; the refusal names the limit and the numbers.
``allow_mass_change`` (the config flag or ``--allow-mass-change``) still measures every
limit, but lets the plan through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from syncd.config import SafeguardConfig
from syncd.errors import SafeguardTripped
from syncd.plan.ops import DeactivateUser, DeleteUser, Op


@dataclass(frozen=True)
class SafeguardCheck:
    """One limit measured against one plan."""

    limit: str
    value: float
    threshold: float
    tripped: bool
    message: str

    def to_dict(self) -> dict[str, object]:
        return {
            "limit": self.limit,
            "value": self.value,
            "threshold": self.threshold,
            "tripped": self.tripped,
            "message": self.message,
        }


def measure(
    ops: Sequence[Op],
    config: SafeguardConfig,
    *,
    population: int,
    rows_read: int | None,
    previous_rows: int | None,
) -> tuple[SafeguardCheck, ...]:
    """Every limit against this plan; ``population`` is the active synced users before it."""
    removals = sum(isinstance(op, DeactivateUser | DeleteUser) for op in ops)
    share = 100.0 * removals / population if population else (100.0 if removals else 0.0)
    percent = config.max_deactivation_percent
    checks = [
        SafeguardCheck(
            limit="max_deactivations",
            value=removals,
            threshold=config.max_deactivations,
            tripped=removals > config.max_deactivations,
            message=(
                f"{removals} deactivations/deletions, limit max_deactivations = "
                f"{config.max_deactivations}"
            ),
        ),
        SafeguardCheck(
            limit="max_deactivation_percent",
            value=round(share, 2),
            threshold=percent,
            tripped=share > percent,
            message=(
                f"{removals} of {population} active synced users ({share:.1f}%) would be "
                f"deactivated, limit max_deactivation_percent = {percent:g}%"
            ),
        ),
        SafeguardCheck(
            limit="max_changes",
            value=len(ops),
            threshold=config.max_changes,
            tripped=len(ops) > config.max_changes,
            message=f"{len(ops)} changes, limit max_changes = {config.max_changes}",
        ),
    ]
    if previous_rows and rows_read is not None:
        ratio = rows_read / previous_rows
        checks.append(
            SafeguardCheck(
                limit="min_source_ratio",
                value=round(ratio, 4),
                threshold=config.min_source_ratio,
                tripped=ratio < config.min_source_ratio,
                message=(
                    f"the export has {rows_read} rows, {ratio:.0%} of the {previous_rows} of the "
                    f"last accepted one, limit min_source_ratio = {config.min_source_ratio:g}"
                ),
            )
        )
    return tuple(checks)


def refusal(checks: Sequence[SafeguardCheck], *, overridden: bool) -> SafeguardCheck | None:
    """The first tripped limit, unless a mass change was allowed."""
    if overridden:
        return None
    return next((check for check in checks if check.tripped), None)


def raise_if_refused(check: SafeguardCheck | None, *, connection: str = "") -> None:
    """``SafeguardTripped`` naming the limit and the numbers, when there is a refusal."""
    if check is None:
        return
    where = f"connection `{connection}`: " if connection else ""
    raise SafeguardTripped(
        f"{where}plan refused by safeguard {check.limit}: {check.message} "
        "(use --allow-mass-change for a deliberate large change)",
        limit=check.limit,
        value=check.value,
        threshold=check.threshold,
        connection=connection,
    )
