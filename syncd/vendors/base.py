"""The one interface every LMS connector implements, and the plain values it speaks in.

A connector is one small class per vendor: declared data on the class (``vendor``,
``profile``, ``rate``, ``match_fields``, ``sandbox_credentials``) and a handler per op kind
(:meth:`Connector.handlers`). It lists what the LMS holds. The loop that runs a batch,
stops it and turns vendor errors into :class:`Outcome` values is :meth:`Connector.execute`,
written once here so that every vendor stops and answers alike; a vendor writes only its
own calls. A connector never touches the state database and never sleeps: pacing lives in
the rate-limited transport of ``syncd.http``, shared by every connection that uses the
same credential.

Building one::

    connector = syncd.vendors.connect(connection)          # client built from the config
    connector = LitmosConnector(connection, client=client)  # or with a client you made

What the worker must do with each Outcome
-----------------------------------------
``execute(batch, refs)`` yields exactly one Outcome per op, in the batch's order, with
``outcome.key == op.key``. The worker must supply in ``refs`` the remote id of every user
(``external_id``) and group (``group_key``, including a ``parent_key``) the op names; an op
whose reference is missing comes back ``dead`` (a dependency ordering bug, not a vendor
answer). Every vendor answer and transport failure becomes an Outcome; an exception out of
``execute`` is a bug (a missing credential is a ``ConfigError`` raised when the connector
is built, before any op). The deliberate exceptions are ``CredentialRefused`` (the vendor
refused the key itself) and ``TlsFailure`` (the server's certificate or TLS handshake was
refused): every op would get the same answer, so the drain stops. If an
exception escapes, the op it was on and the rest of the batch have no Outcome: the worker
must treat them as not attempted (release them for a retry).

``done``
    The vendor confirmed the effect. In ONE transaction: mark the op done and apply it to
    the mirror. ``remote_id`` is set for ``create_user``/``create_group`` (and
    ``link_user``/``link_group``): record it. ``adopted=True`` means the object already existed (a
    ``409`` resolved by exact lookup, e.g. a create whose earlier 201 was lost in a crash)
    and was adopted, not created: record the remote id exactly as for a create.
    ``detail`` is what the LMS now holds, for the mirror:

    - user ops: ``{"attrs": {field: value, ...}, "active": bool}`` -- ``attrs`` holds the
      managed fields actually written (for ``update_user`` only the changed ones, for a
      create or an adoption all of the op's attrs); ``active`` is present when the op set it;
    - group ops: ``{"name": str, "parent_remote_id": str}``;
    - ``add_members``: ``{"added": [external_id, ...]}`` (every member of the op);
    - ``remove_member``: ``{"removed": external_id}``;
    - assignments: ``{"course_ids": [...]}`` or ``{"learning_path_ids": [...]}``;
    - ``unassign_course``: ``{"course_id": ...}``; ``unassign_learning_path``:
      ``{"learning_path_id": ...}``; ``delete_user``: ``{"deleted": True}``;
    - ``link_user``/``link_group``: no vendor call, ``adopted=True``, detail as for a create.

``retry``
    Not done, worth trying again: HTTP 429/503/5xx, timeouts, connection errors, or the op
    was not attempted because the credential was told to slow down earlier in the batch.
    Keep the op, increase ``attempts``, set ``next_attempt_at = now + max(retry_after or 0,
    backoff(attempts))`` (exponential with jitter). ``retry_after`` is the vendor's hint in
    seconds when it gave one (or the limiter's pause). The worker must not sleep or pace by
    itself: the transport already paused the whole credential on a rate-limit answer.
    ``rate_limited`` says the vendor refused the request for going too fast (429, Litmos'
    503): waiting for its window is not a failure, so the op is not charged an attempt
    and is never dead-lettered for it; the worker bounds the total rate waiting instead.

``dead``
    The vendor refused for a reason retrying will not fix (a 4xx with its reason, an
    unresolvable conflict, a missing reference). Dead-letter the op with ``error`` (safe to
    store and print: no secrets) and mark every op that depends on it ``blocked``; the
    rest proceeds.

``calls`` is how many HTTP requests the op cost (for metrics and the plan-vs-actual check);
``attempted`` is False only for ops returned ``retry`` without any request being made (do
not count an attempt against them).

Pacing across a restart: the limiter of a credential (``client.limiter``) forgets its
recent requests when the process dies, so the reconcile stage restores the history an
earlier process saved (``Limiter.snapshot``/``restore``, stored by ``syncd.state.pacing``)
before the first request, or the vendor would see a burst over its rule.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from pydantic import SecretStr

from syncd.errors import (
    CredentialRefused,
    Permanent,
    RateLimited,
    Retryable,
    TlsFailure,
    VendorError,
)
from syncd.limiter import RateRule
from syncd.log import get_logger
from syncd.plan.links import DeclaredLink, RemoteLink
from syncd.plan.ops import LinkGroup, LinkUser, Op, Refs

if TYPE_CHECKING:
    from syncd.config import ConnectionConfig
    from syncd.http import HttpClient
    from syncd.plan.model import VendorProfile

log = get_logger("syncd.vendors")

MatchKey = Literal["employee_id", "username", "email"]
"""What ``connection.match_key`` may name: the person's value compared with an account's."""

OpT = TypeVar("OpT", bound=Op)


class Status(StrEnum):
    """What the worker does with an op after the connector ran it (see module docstring)."""

    DONE = "done"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """The result of one op; the worker's whole decision is in ``status``."""

    key: str
    status: Status
    remote_id: str | None = None
    adopted: bool = False
    detail: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    retry_after: float | None = None
    calls: int = 0
    attempted: bool = True
    rate_limited: bool = False

    @classmethod
    def done(
        cls,
        op: Op,
        *,
        calls: int,
        remote_id: str | None = None,
        adopted: bool = False,
        detail: Mapping[str, Any] | None = None,
    ) -> Outcome:
        return cls(
            key=op.key,
            status=Status.DONE,
            remote_id=remote_id,
            adopted=adopted,
            detail=dict(detail or {}),
            calls=calls,
        )

    @classmethod
    def retry(
        cls,
        op: Op,
        error: str,
        *,
        calls: int,
        retry_after: float | None = None,
        attempted: bool = True,
        rate_limited: bool = False,
    ) -> Outcome:
        return cls(
            key=op.key,
            status=Status.RETRY,
            error=error,
            retry_after=retry_after,
            calls=calls,
            attempted=attempted,
            rate_limited=rate_limited,
        )

    @classmethod
    def dead(cls, op: Op, error: str, *, calls: int) -> Outcome:
        return cls(key=op.key, status=Status.DEAD, error=error, calls=calls)


@dataclass(frozen=True, slots=True)
class RemoteUser:
    """One LMS account as listed for a full reconcile (adoption and drift detection).

    ``attrs`` holds the vendor's user fields as plain strings, in the vendor's order;
    ``match_fields`` is the connector's :attr:`Connector.match_fields`, so that matching
    needs no vendor's field names here. Built by :meth:`Connector.remote_user`.
    """

    remote_id: str
    active: bool
    attrs: Mapping[str, str]
    match_fields: Mapping[MatchKey, str]

    def match_value(self, match_key: MatchKey) -> str:
        """The value a person's ``match_key`` is compared with; empty when the vendor has
        no field for that key (no account then matches by it)."""
        name = self.match_fields.get(match_key)
        return self.attrs.get(name, "") if name else ""

    @property
    def username(self) -> str:
        return self.match_value("username")

    @property
    def email(self) -> str:
        return self.match_value("email")


@dataclass(frozen=True, slots=True)
class RemoteGroup:
    """One LMS team/group; ``parent_remote_id`` is empty for a top-level group."""

    remote_id: str
    name: str
    parent_remote_id: str = ""


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range ``[since, until)`` of vendor-side changes, tz-aware UTC."""

    since: datetime
    until: datetime


class ResultStatus(StrEnum):
    """A learner's standing on one item, the same words for every vendor: what HR reads.

    ``completed`` is finished with no pass/fail verdict; ``passed``/``failed`` carry one;
    ``expired`` is a certificate (or compliance) past its expiry date.
    """

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    PASSED = "passed"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultRecord:
    """One learner's current result on one learning item, normalized across vendors.

    Identity is ``(remote_user_id, item_kind, item_id)``: a vendor's later answer about
    the same pair replaces the earlier one. ``item_kind`` is ``course``,
    ``learning_path``, ``registration`` (SCORM Cloud: ``item_id`` is the registration id,
    ``course_id`` the course) or ``certificate``. ``external_id`` is the HRIS key when the
    vendor carries it (SCORM Cloud's learner id, Enabley's identifier); empty, the pull
    resolves it from the mirror by ``remote_user_id``. ``status`` is a
    :class:`ResultStatus`; ``seconds`` the time the learner spent; ``expires_at`` a
    certificate's expiry or a course's compliant-till date; ``updated_at`` the vendor's own
    change time. ``raw`` keeps a few vendor fields worth showing, never secrets.
    """

    remote_user_id: str
    username: str
    item_kind: str
    item_id: str
    item_name: str = ""
    course_id: str = ""
    external_id: str = ""
    status: str = ResultStatus.NOT_STARTED
    completed: bool = False
    passed: bool | None = None
    percentage: float | None = None
    score: float | None = None
    seconds: int | None = None
    assigned_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    updated_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Handler:
    """The method that runs one op kind; made by :func:`handles`, which checks the pair."""

    kind: str
    run: Callable[[Any, Refs], Outcome]


def handles(op_type: type[OpT], run: Callable[[OpT, Refs], Outcome]) -> Handler:
    """``run`` runs the ops of ``op_type``: a type checker sees that it takes that op type,
    which a plain ``{kind: method}`` mapping could not show."""
    return Handler(op_type.kind, run)


class Connector(abc.ABC):
    """One vendor's API behind syncd's interface; subclasses declare data and handlers."""

    vendor: ClassVar[str]
    profile: ClassVar[VendorProfile]
    rate: ClassVar[RateRule]
    match_fields: ClassVar[Mapping[MatchKey, str]]
    """Which of the vendor's user fields holds each match key (a key without one matches
    no account)."""
    sandbox_credentials: ClassVar[Mapping[str, str]]
    """Credential name in the configuration -> the simulator's demo credential that fills
    it in a ``sandbox:`` run."""
    sandbox_options: ClassVar[Mapping[str, str]] = {}
    """Option name -> the simulator's demo value that fills it in a ``sandbox:`` run."""

    def __init__(self, connection: ConnectionConfig, *, client: HttpClient | None = None) -> None:
        self.connection = connection
        self.client = client if client is not None else self.client_for(connection)
        self._handlers = _dispatch(self.vendor, self.handlers())

    @classmethod
    def remote_user(cls, remote_id: str, active: bool, attrs: Mapping[str, str]) -> RemoteUser:
        """A listed account, matched through this vendor's :attr:`match_fields`."""
        return RemoteUser(remote_id, active, attrs, cls.match_fields)

    @classmethod
    def sandbox_connection(
        cls, connection: ConnectionConfig, demo: Mapping[str, str], base_url: str
    ) -> ConnectionConfig:
        """``connection`` aimed at a running simulator at ``base_url`` with its ``demo``
        credentials (fixed, not secrets), for ``sandbox:`` runs."""
        credentials = {
            ours: SecretStr(demo[theirs])
            for ours, theirs in cls.sandbox_credentials.items()
            if theirs in demo
        }
        options = dict(connection.options)
        for ours, theirs in cls.sandbox_options.items():
            options[ours] = demo[theirs]
        pointed: ConnectionConfig = connection.model_copy(
            update={"base_url": base_url, "credentials": credentials, "options": options}
        )
        return pointed

    @classmethod
    def profile_for(cls, connection: ConnectionConfig) -> VendorProfile:
        """The profile the plan uses for ``connection``: the vendor's, or one a connection
        option changes (a form of assignment that costs more calls, say)."""
        return cls.profile

    @classmethod
    def rate_rule(cls, connection: ConnectionConfig) -> RateRule:
        """The connection's own rule when configured (a contract with more), else the vendor's."""
        if connection.rate is not None:
            return RateRule(connection.rate.requests, connection.rate.per_seconds)
        return cls.rate

    @classmethod
    @abc.abstractmethod
    def client_for(cls, connection: ConnectionConfig) -> HttpClient:
        """An HTTP client with the vendor's auth, paced by the credential's shared limiter."""

    @abc.abstractmethod
    def handlers(self) -> Iterable[Handler]:
        """The handler of each op kind this vendor runs (see :func:`handles`).

        A handler returns the op's ``done`` Outcome, or raises a ``VendorError`` that
        :meth:`execute` turns into the Outcome; a ``Conflict`` it can resolve (adoption) it
        resolves itself."""

    def link_user(self, op: LinkUser, refs: Refs) -> Outcome:
        """Adopt an account a full listing found: no vendor call, its id and fields recorded
        (the same for every vendor, so a connector declares it with ``handles``)."""
        return Outcome.done(
            op,
            calls=0,
            remote_id=op.remote_id,
            adopted=True,
            detail={"attrs": dict(op.attrs), "active": op.active},
        )

    def link_group(self, op: LinkGroup, refs: Refs) -> Outcome:
        """Adopt a group a full listing found: no vendor call, as :meth:`link_user`."""
        parent = refs.groups.get(op.parent_key, "") if op.parent_key else ""
        return Outcome.done(
            op,
            calls=0,
            remote_id=op.remote_id,
            adopted=True,
            detail={"name": op.name, "parent_remote_id": parent},
        )

    def refuses_the_key(self, exc: VendorError) -> bool:
        """Whether ``exc`` refuses the credential itself rather than one op (every op would
        get it, so the drain stops). The transport already raises ``CredentialRefused`` for
        a 401; a vendor whose other answers can mean the same says so here."""
        return False

    def execute(self, batch: Sequence[Op], refs: Refs) -> Iterator[Outcome]:
        """Run the ops in order; yield one Outcome per op (see the module docstring).

        After a rate-limit answer the rest of the batch is not attempted (retry, no call):
        the credential is paused and every further request would be refused too. A refused
        key or TLS failure raises, leaving the rest without an Outcome (the drain stops).
        """
        halted: RateLimited | None = None
        for op in batch:
            if halted is not None:
                yield self._not_attempted(op, halted)
                continue
            before = self.client.calls.total
            try:
                outcome = self._run(op, refs)
            except RateLimited as exc:
                halted = exc
                outcome = self._failed(op, exc, before)
            except (CredentialRefused, TlsFailure):
                raise
            except VendorError as exc:
                if self.refuses_the_key(exc):
                    raise CredentialRefused(exc.message, status=exc.status) from None
                outcome = self._failed(op, exc, before)
            log.debug(
                "connector.op",
                vendor=self.vendor,
                key=op.key,
                status=str(outcome.status),
                calls=outcome.calls,
            )
            yield outcome

    def _run(self, op: Op, refs: Refs) -> Outcome:
        handler = self._handlers.get(op.kind)
        if handler is None:
            raise Permanent(f"{self.vendor}: no support for `{op.kind}` ops", kind=op.kind)
        return handler(op, refs)

    def _not_attempted(self, op: Op, halted: RateLimited) -> Outcome:
        wait = self.client.limiter.paused_for() if self.client.limiter else None
        return Outcome.retry(
            op,
            f"not attempted: {halted.message}",
            calls=0,
            retry_after=wait or halted.retry_after,
            attempted=False,
        )

    def _failed(self, op: Op, exc: VendorError, before: int) -> Outcome:
        calls = self.calls_since(before)
        if isinstance(exc, Retryable):
            return Outcome.retry(
                op,
                exc.message,
                calls=calls,
                retry_after=exc.retry_after,
                rate_limited=isinstance(exc, RateLimited),
            )
        return Outcome.dead(op, exc.message, calls=calls)

    def calls_since(self, before: int) -> int:
        """Requests this connector's client sent since ``client.calls.total`` was ``before``."""
        return self.client.calls.total - before

    @abc.abstractmethod
    def list_users(self) -> Iterator[RemoteUser]:
        """Every account in the LMS (active and inactive), for a full reconcile."""

    @abc.abstractmethod
    def list_groups(self) -> Iterator[RemoteGroup]:
        """Every team/group in the LMS with its parent, for a full reconcile."""

    def list_members(self, group_remote_id: str) -> Iterator[str]:
        """Remote ids of the group's members as the vendor lists them, for a full reconcile.

        A connector that cannot list them raises ``NotImplementedError``: the full
        reconcile then leaves the mirror's memberships unchecked.
        """
        raise NotImplementedError(f"{self.vendor}: group members cannot be listed")

    def list_holders(self, kind: str, item_id: str) -> Iterator[str]:
        """Remote ids of the users a course (``kind`` "course") or learning path
        ("learning_path") is assigned to, for a full reconcile; ``NotImplementedError``
        as for :meth:`list_members`."""
        raise NotImplementedError(f"{self.vendor}: {kind} assignments cannot be listed")

    result_span: ClassVar[timedelta | None] = None
    """The longest window one :meth:`results` read may cover (Litmos' delta endpoints: 7
    days); the pull stage cuts longer spans into windows of this size and commits each
    before the next. None: any span."""

    result_scan: ClassVar[bool] = False
    """True when the vendor offers no changed-since filter (Enabley): :meth:`results`
    ignores the window and reads everything, and the pull records only what changed."""

    def results(self, window: Window) -> Iterator[ResultRecord]:
        """Result records created or changed within ``window`` (every record, when
        :attr:`result_scan`), streamed page by page: never the whole history in memory.

        Records may repeat (overlapping windows, a re-read page): the pull upserts them.
        """
        raise NotImplementedError(f"{self.vendor}: result pulls are not implemented yet")

    def results_backfill(
        self, since: datetime, until: datetime | None = None
    ) -> Iterator[ResultRecord]:
        """A first pull's reading of ``[since, until)`` in fewer reads than :meth:`results`
        over its windows would take (Litmos: one walk without the 7-day cap), for vendors
        that offer such a form; the pull stage uses it while a connection has no
        watermark. Optional: ``NotImplementedError`` means "read the windows"."""
        raise NotImplementedError(f"{self.vendor}: no backfill form")

    # ----------------------------------------------------------------------- signup links

    link_fields: ClassVar[tuple[str, ...]] = ()
    """The fields of a self-enrollment link this vendor keeps (of
    ``syncd.plan.links.LINK_FIELDS``): the ones compared with the declaration."""

    def link_identity(self, link: DeclaredLink) -> str:
        """What finds ``link`` among :meth:`list_links` (``RemoteLink.name``): syncd's name,
        unless the vendor knows links by a key of its own (a Litmos token code)."""
        return link.name

    def list_links(self, owner: str) -> Iterator[RemoteLink]:
        """The vendor's self-enrollment links that may be syncd's, with their usage.

        ``owner`` is the connection's name: a vendor that knows links only by syncd's tags
        (SCORM Cloud) tags them with it, so two connections to one account keep apart.

        Optional (``VendorProfile.signup_links``): a vendor without links raises
        ``NotImplementedError``, as do :meth:`create_link` and :meth:`update_link`.
        """
        raise NotImplementedError(f"{self.vendor}: no self-enrollment links")

    def create_link(self, link: DeclaredLink, owner: str) -> RemoteLink:
        """Create ``link`` once (the caller never calls it for a link it listed) and return
        it as the vendor now holds it."""
        raise NotImplementedError(f"{self.vendor}: no self-enrollment links")

    def update_link(self, remote: RemoteLink, link: DeclaredLink, owner: str) -> RemoteLink:
        """Make the listed ``remote`` link hold what ``link`` declares; the new state."""
        raise NotImplementedError(f"{self.vendor}: no self-enrollment links")

    def close(self) -> None:
        """Release the HTTP connections (the shared rate limiter stays)."""
        self.client.close()

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _dispatch(
    vendor: str, handlers: Iterable[Handler]
) -> dict[str, Callable[[Any, Refs], Outcome]]:
    """Op kind -> handler; two handlers for one kind is a bug in the connector."""
    table: dict[str, Callable[[Any, Refs], Outcome]] = {}
    for handler in handlers:
        if handler.kind in table:
            raise TypeError(f"{vendor}: two handlers for `{handler.kind}` ops")
        table[handler.kind] = handler.run
    return table
