"""Absence confirmation: a person missing from one export is not yet a leaver.

An HRIS export that lacks someone proves little on its own (a filter changed, a job ran
half-way, a department was left out for a day). A synced person missing from the export
(as opposed to one whose row says they left) is therefore deprovisioned only once they have
been missing from ``absent_exports`` consecutive accepted exports and, when
``absent_hours`` is set, for that many hours since the first export that lacked them; until
then they are *pending deactivation*: listed by the plan, counted by ``syncd status``, no
vendor call. Both conditions must hold when both are set: each guards against another
accident (one bad file; several bad files in quick succession), and requiring both is never
less safe than either alone.

The history is plain data (:class:`Absence` per person), loaded from the state database
(``syncd.state.absence``) and given to the plan with the export's identity and the time;
the plan returns the history to store (:attr:`Tally.recorded`), which only a reconcile whose
plan was accepted writes. The same file read again (same checksum) is one export, not two.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from syncd.config import DeprovisionConfig


@dataclass(frozen=True, slots=True)
class Absence:
    """One person's run of absences: from how many accepted exports in a row, since when,
    the last of those exports (its checksum), and whether they are still only pending."""

    exports: int
    since: datetime
    export: str = ""
    pending: bool = True


@dataclass(frozen=True)
class AbsenceHistory:
    """What the state database knows (``absent``: external_id -> Absence), and the export
    being planned (its checksum; empty when unknown) at ``now``."""

    absent: Mapping[str, Absence] = field(default_factory=dict)
    export: str = ""
    now: datetime | None = None

    def counted(self, external_id: str) -> Absence:
        """The person's absence with this export counted (once per distinct export)."""
        prior = self.absent.get(external_id)
        now = self.now if self.now is not None else (prior.since if prior else _EPOCH)
        if prior is None:
            return Absence(1, now, self.export)
        same_file = bool(self.export) and prior.export == self.export
        return Absence(prior.exports + (0 if same_file else 1), prior.since, self.export)


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def pending_reason(absence: Absence, policy: DeprovisionConfig, now: datetime | None) -> str | None:
    """Why ``absence`` does not yet deprovision (None: it does), e.g. "pending deactivation
    (absent from 1 of 2 exports)"."""
    waits: list[str] = []
    if absence.exports < policy.absent_exports:
        waits.append(f"absent from {absence.exports} of {policy.absent_exports} exports")
    if policy.absent_hours > 0:
        hours = 0.0 if now is None else max((now - absence.since).total_seconds(), 0) / 3600
        if hours < policy.absent_hours:
            waits.append(f"for {_hours(hours)} of {_hours(policy.absent_hours)} hours")
    if not waits:
        return None
    verb = "deletion" if policy.on_absent == "delete" else "deactivation"
    return f"pending {verb} ({', '.join(waits)})"


def _hours(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


@dataclass
class Tally:
    """The absences one plan counted: who waits (``pending``: external_id, reason) and the
    history a reconcile stores when it enqueues the plan (``recorded``; None: leave the
    stored history as it is, e.g. while keyless rejected rows make absence unprovable)."""

    history: AbsenceHistory
    pending: list[tuple[str, str]] = field(default_factory=list)
    recorded: dict[str, Absence] | None = field(default_factory=dict)

    def confirm(self, external_id: str, policy: DeprovisionConfig) -> bool:
        """Count this export's absence of ``external_id``; True when it deprovisions now."""
        absence = self.history.counted(external_id)
        reason = pending_reason(absence, policy, self.history.now)
        if self.recorded is not None:
            self.recorded[external_id] = Absence(
                absence.exports, absence.since, absence.export, pending=reason is not None
            )
        if reason is None:
            return True
        self.pending.append((external_id, reason))
        return False

    def unprovable(self) -> None:
        """This export proves nobody absent: neither count it nor forget earlier ones."""
        self.recorded = None
