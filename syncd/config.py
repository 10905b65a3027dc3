"""The configuration: one TOML file parsed into frozen pydantic models.

Every field is documented where it is declared (``Field(description=...)``); the same text
is what ``config/example.toml`` explains key by key. Secrets are never written in the file:
a value ``"${NAME}"`` (or a string containing such references) is replaced by the
environment variable ``NAME`` while loading, and fields that hold secrets are
``SecretStr`` so that printing, logging or ``repr`` shows ``**********``. Every value taken
from the environment, whatever key holds it, is treated as a secret: the log redactor
learns it at load and masks it in every log line, error message and command output (write
values that need not be hidden literally).

``load()`` reports every problem at once, each with the file and the dotted key, so a user
fixes a broken file in one pass instead of one error per run.
"""

from __future__ import annotations

import codecs
import ipaddress
import os
import re
import string
import tomllib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from syncd.errors import ConfigError
from syncd.log import REDACTOR

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

_CREDENTIALS = re.compile(r"^connections\.[^.]+\.credentials\.")
_SERVICE_SECRETS = re.compile(r"^service\.token$")
"""Secrets only `syncd run` uses: another command (a CronJob's reconcile sharing the
service's file) loads the file without their variables set."""
_URL_PASSWORD = re.compile(r"://[^:/@\s]+:([^@/\s]+)@")

Vendor = Literal["litmos", "scormcloud", "enabley"]


class _Model(BaseModel):
    """Frozen, and strict about unknown keys: a typo must be an error, not a silent default."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- state, logging


class StateConfig(_Model):
    url: str = Field(
        default="sqlite:///syncd.db",
        description=(
            "SQLAlchemy URL of the state database. The default is a SQLite file `syncd.db` in "
            "the working directory; use `postgresql+psycopg://user:${PGPASSWORD}@host/db` for "
            "production or for several replicas."
        ),
    )
    auto_upgrade: bool = Field(
        default=True,
        description=(
            "Apply pending migrations when a command opens the database. When false, a command "
            "refuses to run on an old schema and asks for `syncd db upgrade`."
        ),
    )


class LoggingConfig(_Model):
    level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest level written."
    )
    format: Literal["auto", "json", "console"] = Field(
        default="auto",
        description="`auto`: readable lines on a terminal, JSON lines otherwise.",
    )


# --------------------------------------------------------------------------- HRIS sources


class NameSplit(_Model):
    PARTS: ClassVar[tuple[str, str, str]] = ("first_name", "middle_name", "last_name")

    column: str = Field(description="Canonical field holding the full name, e.g. `full_name`.")
    format: Literal["last_first", "first_last"] = Field(
        default="last_first",
        description=(
            "`last_first`: `Last, First M` (comma separated; the first word after the comma is "
            "`first_name`, the rest `middle_name`); a value without a comma is read as "
            "`first_last`: `First M Last` (the last word is `last_name`, a single word too). "
            "The parts fill `first_name`, `middle_name` and `last_name` only where those are "
            "empty (or not mapped)."
        ),
    )
    single_word: Literal["both", "reject"] = Field(
        default="both",
        description=(
            "A name of one word (`Suharto`, `Cher`, `Lee,`): `both` makes it the first and "
            "the last name (the person is synced; a warning), `reject` quarantines the row "
            "(LMSs require a first name)."
        ),
    )


class StatusMapping(_Model):
    column: str = Field(default="status", description="Canonical field holding the status.")
    active: list[str] = Field(
        default_factory=lambda: ["active", "a", "leave", "on leave"],
        description="Values meaning active (compared case- and whitespace-insensitively).",
    )
    terminated: list[str] = Field(
        default_factory=lambda: ["terminated", "t", "inactive"],
        description="Values meaning terminated (case- and whitespace-insensitive).",
    )
    termination_date: str | None = Field(
        default="termination_date",
        description=(
            "Canonical date field of the termination; a date in the future keeps the person "
            "active until that date. Empty to ignore."
        ),
    )
    unknown: Literal["reject", "active", "terminated"] = Field(
        default="reject",
        description=(
            "What a value in neither list (or an empty status) means; `reject` quarantines the row."
        ),
    )


class GroupSpec(_Model):
    name: str = Field(description="Name of this grouping, e.g. `department` or `org`.")
    columns: list[str] = Field(
        min_length=1,
        description=(
            'Canonical fields from the top level down, e.g. `["division", "department"]` '
            "makes each department a child group of its division."
        ),
    )


class IntegrityConfig(_Model):
    """The export's integrity gate: file-level checks before any plan (see plan/integrity.py).

    Each check compares the export with the last one the connection accepted, so a first
    run passes every comparison. ``--allow-mass-change`` does not pass a failing check;
    ``--accept-file CHECK`` passes it for one run.
    """

    manifest: str | None = Field(
        default=None,
        description=(
            "A file beside the export holding its data row count (one integer, nothing else), "
            "e.g. `{stem}.count` (`{stem}`: the export's name without its suffix, `{name}`: "
            "with it). The run stops when it is missing, unreadable or disagrees with the "
            "rows read. Unset: no manifest."
        ),
    )
    max_age: str | None = Field(
        default=None,
        description=(
            "Stop when the export (the newest file of the glob) was last modified longer ago "
            "than this (`26h`, `2d`): the HRIS job that writes it has stopped. Unset: no "
            "age limit."
        ),
    )
    same_file: bool = Field(
        default=False,
        description=(
            "A file identical (sha256) to the last one the connection accepted, with the same "
            "configuration on the same day, is not planned again: the run records "
            "`nothing new` and exits 0 (a cron rerun is not an error). Off by default: "
            "planning the same file again is harmless (an empty plan) and retries what failed."
        ),
    )
    header: bool = Field(
        default=True,
        description=(
            "Stop when a column was added, removed or renamed since the last accepted export "
            "(a new order of the same columns is fine)."
        ),
    )
    encoding: bool = Field(
        default=True,
        description=(
            "Stop when the export's encoding (UTF-8 with or without BOM count as one) or "
            "delimiter differs from the last accepted export's."
        ),
    )
    max_empty_rise: float | None = Field(
        default=20.0,
        ge=0,
        le=100,
        description=(
            "Stop when the share of empty values of a column the mapping reads rose by more "
            "than this many percentage points since the last accepted export (a column gone "
            "blank). Unset: not checked."
        ),
    )
    empty_min_rows: int = Field(
        default=50,
        ge=1,
        description=(
            "`max_empty_rise` compares exports of at least this many rows only (in a small "
            "file one blank cell is many points)."
        ),
    )

    @field_validator("max_age")
    @classmethod
    def _age(cls, value: str | None) -> str | None:
        if value is not None and parse_interval(value) is None:
            raise ValueError("must be an interval like `26h`, `90m` or `2d`")
        return value

    @field_validator("manifest")
    @classmethod
    def _manifest(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                value.format(stem="x", name="x")
            except (KeyError, IndexError, ValueError):
                raise ValueError("may use only `{stem}` and `{name}`") from None
            if "/" in value or "\\" in value:
                raise ValueError("names a file beside the export (no folders)")
        return value

    def age_limit(self) -> timedelta | None:
        return None if self.max_age is None else parse_interval(self.max_age)


class SourceConfig(_Model):
    path: str = Field(
        description=(
            "The export file, or a glob (`exports/roster-*.csv`) of which the newest file by "
            "modification time is read. Relative paths are relative to the config file."
        )
    )
    encoding: str = Field(
        default="auto",
        description="`auto` detects UTF-8 (with or without BOM) and cp1252; or name one.",
    )
    delimiter: str = Field(
        default="auto", description="`auto` sniffs comma, semicolon, tab or pipe; or give one."
    )
    key: str = Field(default="employee_id", description="Canonical field that identifies a person.")
    previous_key: str | None = Field(
        default=None,
        description=(
            "Canonical field holding a person's previous key when the HRIS changed it (e.g. "
            "`previous_employee_id`, mapped in `columns` or `optional_columns`). A person whose "
            "key is new to a connection but whose previous key is synced there, and no longer "
            "in the export, keeps that account under the new key (Enabley: one identifier "
            "change; Litmos: no call) instead of a new account and a leaver. Unset: a changed "
            "key is a new person. SCORM Cloud cannot change a learner id and ignores it "
            "(with a warning)."
        ),
    )
    columns: dict[str, str] = Field(
        description=(
            "Canonical field -> header in the file. Headers match case- and "
            "whitespace-insensitively. Every mapped header must exist in the file."
        )
    )
    optional_columns: list[str] = Field(
        default_factory=list,
        description="Canonical fields whose header may be absent from the file (left empty).",
    )
    derived: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Canonical field -> template over other fields, e.g. "
            '`username = "{employee_id}@corp.example"`. Filled in the order written, only where '
            "the field is empty and every field the template uses has a value; the result is "
            "kept as the template makes it (no case change). A template may use mapped fields, "
            "name parts and fields derived above it."
        ),
    )
    name_split: NameSplit | None = Field(
        default=None, description="Split a full-name field into first/middle/last name."
    )
    date_formats: list[str] = Field(
        default_factory=lambda: ["%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y"],
        description="strptime formats tried in order for every date field.",
    )
    date_fields: list[str] = Field(
        default_factory=lambda: ["hire_date", "termination_date"],
        description="Canonical fields parsed as dates (ISO `YYYY-MM-DD` in the Roster).",
    )
    two_digit_year_pivot: int = Field(
        default=69,
        ge=0,
        le=100,
        description=(
            "Two-digit years (`%y`) below this are 20xx, the others 19xx: the default 69 reads "
            "00-68 as 2000-2068 and 69-99 as 1969-1999, as Python's strptime does."
        ),
    )
    past_only_dates: list[str] = Field(
        default_factory=lambda: ["birth_date"],
        description=(
            "Date fields never in the future: a two-digit year that would land after today "
            "is read in the century before (`05/01/51` is 1951), and a future date is a warning."
        ),
    )
    max_days_ahead: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: {"hire_date": 366},
        description=(
            "Date field -> most days after today it plausibly is; a later date (a hire date "
            "of 9999-12-31) is a warning, the row is kept."
        ),
    )
    email_fields: list[str] = Field(
        default_factory=lambda: ["email"],
        description="Canonical fields validated as email addresses when not empty.",
    )
    status: StatusMapping = Field(
        default_factory=StatusMapping, description="How the status column maps to active."
    )
    manager: str | None = Field(
        default="manager_id",
        description="Canonical field holding the manager's key (unknown ones are a warning).",
    )
    groups: list[GroupSpec] = Field(
        default_factory=list, description="Groupings (and hierarchies) built from columns."
    )
    watch: bool = Field(
        default=False,
        description=(
            "`syncd run` only: watch `path` (the file, or the newest file of the glob) and sync "
            "the roster of every connection fed by this source soon after a new or changed "
            "export appears (checked every `service.watch_every`; a file is taken once its size "
            "and time stay the same over two checks, so a half-written file is not read)."
        ),
    )
    integrity: IntegrityConfig = Field(
        default_factory=IntegrityConfig,
        description="The integrity gate every export passes before it is planned.",
    )

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if value != "auto" and len(value.replace("\\t", "\t")) != 1:
            raise ValueError("must be `auto` or a single character")
        return value.replace("\\t", "\t")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding `{value}`") from None
        return value

    @staticmethod
    def template_fields(template: str) -> list[str]:
        """The `{field}` names of a derived-field template, in order; ValueError if malformed."""
        names = []
        for _literal, name, spec, conversion in string.Formatter().parse(template):
            if name is None:
                continue
            if not name.isidentifier() or spec or conversion:
                raise ValueError(f"`{{{name}}}`: only plain `{{field}}` references are allowed")
            names.append(name)
        return names

    def fields(self) -> list[str]:
        """Every canonical field of this source: mapped, name parts, derived, in that order."""
        names = list(self.columns)
        if self.name_split is not None:
            names += [p for p in NameSplit.PARTS if p not in names]
        return names + [d for d in self.derived if d not in names]

    def _date_rules_name_date_fields(self, explicit: set[str]) -> list[str]:
        """Date rules the user wrote must name parsed date fields (defaults may not apply)."""
        dates = set(self.date_fields) | {self.status.termination_date or ""}
        named = {
            "past_only_dates": self.past_only_dates,
            "max_days_ahead": list(self.max_days_ahead),
        }
        return [
            f"{key}: `{name}` is not a date field (list it in `date_fields`)"
            for key, names in named.items()
            if key in explicit
            for name in names
            if name not in dates
        ]

    @model_validator(mode="after")
    def _references_are_known(self) -> SourceConfig:
        """Every field named elsewhere must be mapped, a name part or derived.

        Defaults (``hire_date``, ``email``, ``status``, ``manager_id``, ...) may name fields
        this export does not have: those checks are simply skipped. A name the user wrote
        must exist, so that a typo is an error here and not a silently skipped check.
        """
        known = set(self.fields())
        problems = []

        def check(where: str, names: list[str]) -> None:
            for name in names:
                if name not in known:
                    problems.append(f"{where}: `{name}` is not a mapped, derived or name field")

        check("key", [self.key])
        if self.previous_key is not None:
            check("previous_key", [self.previous_key])
            if self.previous_key == self.key:
                problems.append(f"previous_key: `{self.previous_key}` is the key itself")
        check("optional_columns", [c for c in self.optional_columns if c not in self.columns])
        if self.name_split is not None:
            check("name_split.column", [self.name_split.column])
        order = list(self.derived)
        for position, (target, template) in enumerate(self.derived.items()):
            try:
                refs = self.template_fields(template)
            except ValueError as exc:
                problems.append(f"derived.{target}: {exc}")
                continue
            check(f"derived.{target}", refs)
            later = [
                r
                for r in refs
                if r in order[position:] and r not in self.columns and r not in NameSplit.PARTS
            ]
            if later:
                problems.append(
                    f"derived.{target}: uses `{later[0]}`, which is derived at or after it "
                    "(templates are filled in the order written)"
                )
        explicit = self.model_fields_set
        if "date_fields" in explicit:
            check("date_fields", self.date_fields)
        if "email_fields" in explicit:
            check("email_fields", self.email_fields)
        problems.extend(self._date_rules_name_date_fields(explicit))
        if "manager" in explicit and self.manager:
            check("manager", [self.manager])
        status_set = self.status.model_fields_set if "status" in explicit else set()
        if "column" in status_set:
            check("status.column", [self.status.column])
        if "termination_date" in status_set and self.status.termination_date:
            check("status.termination_date", [self.status.termination_date])
        for i, group in enumerate(self.groups):
            check(f"groups[{i}].columns", group.columns)
        if problems:
            raise ValueError("; ".join(problems))
        return self


# --------------------------------------------------------------------------- connections


class RateConfig(_Model):
    requests: int = Field(gt=0, description="Requests allowed per window.")
    per_seconds: float = Field(gt=0, description="Length of the rolling window in seconds.")


class ScheduleConfig(_Model):
    roster: str | None = Field(
        default=None,
        description=(
            "When `syncd run` syncs the roster: a 5-field cron (local time) or an interval "
            "(`15m`, counted from the service's start, which runs it at once). Unset: `1h`."
        ),
    )
    results: str | None = Field(
        default=None,
        description=(
            "When `syncd run` pulls course results; cron or interval as `roster`. Unset: `6h` "
            "(pulls are incremental; vendors that cannot be read are not scheduled)."
        ),
    )

    @field_validator("roster", "results")
    @classmethod
    def _cron_or_interval(cls, value: str | None) -> str | None:
        if value is not None and parse_interval(value) is None and len(value.split()) != 5:
            raise ValueError("must be a 5-field cron expression or an interval like `15m`")
        return value


class Condition(_Model):
    """One test over a person; a rule applies when all its conditions hold."""

    field: str | None = Field(default=None, description="Canonical Roster field tested.")
    equals: str | None = Field(default=None, description="Equal (case-insensitive).")
    in_: list[str] | None = Field(
        default=None, alias="in", description="One of these values (case-insensitive)."
    )
    not_: str | list[str] | None = Field(
        default=None, alias="not", description="Not this value (or none of these)."
    )
    regex: str | None = Field(default=None, description="Python regex searched in the value.")
    hired_within_days: int | None = Field(
        default=None, ge=0, description="Hire date no more than this many days ago."
    )
    member_of: str | None = Field(
        default=None, description="Member of the group with this key (or any of its children)."
    )

    @model_validator(mode="after")
    def _exactly_one_test(self) -> Condition:
        tests = [t for t in (self.equals, self.in_, self.not_, self.regex) if t is not None]
        standalone = [t for t in (self.hired_within_days, self.member_of) if t is not None]
        if len(tests) + len(standalone) != 1:
            raise ValueError(
                "give exactly one of equals, in, not, regex, hired_within_days, member_of"
            )
        if tests and not self.field:
            raise ValueError("`field` is required with equals, in, not and regex")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"invalid regex: {exc}") from None
        return self


class Assign(_Model):
    courses: list[str] = Field(default_factory=list, description="Course ids to assign.")
    learning_paths: list[str] = Field(
        default_factory=list, description="Learning path ids to assign (Litmos only)."
    )


class Rule(_Model):
    name: str = Field(description="Shown in the plan when this rule causes an assignment.")
    when: list[Condition] = Field(
        default_factory=list, description="All must hold; empty means everyone active."
    )
    assign: Assign = Field(description="What people matching `when` get.")


class DeprovisionConfig(_Model):
    on_termination: Literal["deactivate", "delete", "ignore"] = Field(
        default="deactivate", description="What happens to the LMS account of a leaver."
    )
    on_absent: Literal["deactivate", "delete", "ignore"] = Field(
        default="deactivate",
        description="What happens to a synced person missing from the export.",
    )
    grace_days: int = Field(
        default=0, ge=0, description="Days after termination before deactivating."
    )
    absent_exports: int = Field(
        default=2,
        ge=0,
        description=(
            "Deactivate (or delete) a synced person missing from the export only once they "
            "have been missing from this many consecutive accepted exports (0 or 1: at the "
            "first; the same file read again counts once); until then they are pending "
            "deactivation. Explicit leavers are not delayed."
        ),
    )
    absent_hours: float = Field(
        default=0,
        ge=0,
        description=(
            "And only once they have been missing for this many hours since the first "
            "accepted export that lacked them (0: no time condition). With absent_exports, "
            "both must be reached."
        ),
    )
    reactivate: bool = Field(default=True, description="Reactivate people who come back.")
    remove_memberships: bool = Field(
        default=True, description="Remove team memberships when people move groups."
    )
    unassign_courses: bool = Field(
        default=False,
        description=(
            "Remove course and learning path assignments no rule gives any more (never a "
            "completed, passed or expired one; nothing before the first results pull)."
        ),
    )
    leaver_courses: Literal["keep", "unassign_incomplete"] = Field(
        default="keep",
        description=(
            "When a leaver is deactivated (terminated, or absence confirmed): `keep` leaves "
            "their assignments; `unassign_incomplete` first unassigns every course and "
            "learning path they have not completed, passed or seen expire, then deactivates "
            "them. Completions are always kept. Needs results pulled (`syncd results pull`): "
            "before that, nothing is unassigned and the plan warns."
        ),
    )
    mover_courses: Literal["keep", "unassign_incomplete", "reassign"] = Field(
        default="keep",
        description=(
            "When a person moves (the export puts them in a pushed group they were not in and "
            "out of one they were in; the new group's rules assign its courses under every "
            "choice): `keep` leaves the old assignments; `unassign_incomplete` unassigns the "
            "incomplete ones no rule gives them any more; `reassign` also withdraws the "
            "incomplete ones the new group's rules still give and assigns those again, so "
            "they start fresh with a new assignment date. Completions are always kept; "
            "nothing is unassigned before the first results pull."
        ),
    )


class SafeguardConfig(_Model):
    max_deactivations: int = Field(
        default=50, ge=0, description="Most deactivations (or deletions) one run may make."
    )
    max_deactivation_percent: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="Most deactivations as a percentage of the active synced population.",
    )
    max_changes: int = Field(
        default=10_000, ge=0, description="Most ops of any kind one run may enqueue."
    )
    min_source_ratio: float = Field(
        default=0.9,
        ge=0,
        le=1,
        description=(
            "Refuse an export with fewer rows than this share of the last accepted one "
            "(a truncated file)."
        ),
    )
    max_group_removals: int = Field(
        default=100,
        ge=0,
        description="Most removals of people from groups one run may make.",
    )
    max_group_removal_percent: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="Most group removals as a percentage of the memberships syncd holds.",
    )
    max_unassignments: int = Field(
        default=100,
        ge=0,
        description="Most course and learning path unassignments one run may make.",
    )
    max_unassignment_percent: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="Most unassignments as a percentage of the assignments syncd holds.",
    )
    max_field_changes: int = Field(
        default=500,
        ge=0,
        description=(
            "Most people whose value of any one field (or whose groups) one run may change."
        ),
    )
    max_field_change_percent: float = Field(
        default=15.0,
        ge=0,
        le=100,
        description=(
            "Most people whose value of any one field (or whose groups) one run may change, "
            "as a percentage of the active synced people (a mapping change moving everyone)."
        ),
    )
    mass_change_min_population: int = Field(
        default=20,
        ge=0,
        description=(
            "The group removal, unassignment and field change percentages apply only from "
            "this many memberships, assignments or active synced people (5 people changing "
            "one title is not a mass change); their counts always apply."
        ),
    )
    allow_mass_change: bool = Field(
        default=False,
        description="Turn every safeguard off for deliberate large changes (like the flag).",
    )
    on_trip: Literal["hold", "refuse"] = Field(
        default="hold",
        description=(
            "What a tripped limit does: `hold` stores the ops it measured (a whole-plan "
            "limit: every deactivation, removal and unassignment) as held for an operator "
            "(`syncd held`) while the rest of the plan goes out; `refuse` refuses the whole "
            "plan. `min_known_share` always refuses."
        ),
    )
    hold_hours: float = Field(
        default=168,
        gt=0,
        description=(
            "How long a held op waits for `syncd held approve` or `reject`; then it is "
            "dropped and the next plan decides again."
        ),
    )
    min_known_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description=(
            "Refuse an export when fewer than this share of the active synced people are in "
            "it AND fewer than this share of its people are ones syncd knows: another "
            "company's or another system's file (applied from mass_change_min_population "
            "people; 0 turns it off)."
        ),
    )


LinkKind = Literal["course", "team", "learning_path", "collection"]


class SignupLink(_Model):
    """A self-enrollment link kept as declared: a Litmos self-signup token or a SCORM
    Cloud public invitation. Each run creates it once and updates it, never twice."""

    name: str = Field(
        min_length=1,
        max_length=100,
        description=(
            "syncd's own name of the link, unique per connection: its identity at the "
            "vendor (Litmos: the token code unless `code` says otherwise; SCORM Cloud: the "
            "tag `syncd:<connection>:<name>` put on the invitation). Renaming it makes a "
            "new link and leaves the old one alone."
        ),
    )
    target: str = Field(
        min_length=1,
        max_length=50,
        description=(
            "What claiming the link enrols into. Litmos: the course, learning path or "
            'collection id, or for `kind = "team"` a group key of the source\'s pushed '
            "groups (`org:Commercial/Sales`) or a team id; SCORM Cloud: the course id."
        ),
    )
    kind: LinkKind = Field(
        default="course",
        description=(
            "Litmos only: `course`, `team`, `learning_path` or `collection` (TokenType 1-4)."
        ),
    )
    code: str | None = Field(
        default=None,
        min_length=1,
        max_length=250,
        description="Litmos only: the token code people type to sign up; default `name`.",
    )
    limit: int = Field(
        default=0,
        ge=0,
        description=(
            "Most sign-ups the link takes (Litmos MaximumActivations, SCORM Cloud "
            "registrationCap); 0 = unlimited."
        ),
    )
    expires: date | datetime | None = Field(
        default=None,
        description=(
            "When the link stops working: a date (the end of that day) or a date and time "
            "(UTC unless it carries an offset); none = never. SCORM Cloud cannot take an "
            "expiry off an invitation once set: give a later one instead."
        ),
    )
    active: bool = Field(
        default=True,
        description=(
            "Open (true) or closed. Litmos: Active; SCORM Cloud: allowLaunch and "
            "allowNewRegistrations."
        ),
    )
    tags: list[str] = Field(
        default_factory=list,
        description="SCORM Cloud only: tags the invitation carries (besides syncd's own).",
    )

    @field_validator("name", "target", "code")
    @classmethod
    def _no_padding(cls, value: str | None) -> str | None:
        if value is not None and value != value.strip():
            raise ValueError("must not start or end with spaces")
        return value

    @field_validator("tags")
    @classmethod
    def _plain_tags(cls, value: list[str]) -> list[str]:
        if any(not tag.strip() or tag.startswith("syncd:") for tag in value):
            raise ValueError("tags must not be empty nor start with `syncd:` (syncd's own)")
        return value


SANDBOX_URL = "sandbox:"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_problem(url: str, *, allow_insecure_http: bool | None = False) -> str | None:
    """Why ``url`` cannot serve as a vendor base URL, or None when it can.

    Checked at load so that every command refuses it up front: otherwise each op fails on
    its own, later, as a vague connection error. The reason never repeats the URL, whose
    userinfo may hold a password.
    """
    if not url.strip():
        return "is empty; give the vendor's API URL, e.g. `https://api.litmos.com/v1.svc`"
    if url.startswith(SANDBOX_URL):
        return None
    if url != url.strip():
        return "has spaces around it"
    if "://" not in url:
        return "has no scheme; write it as `https://host/path`"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        return f"scheme `{scheme}` is not supported; vendors are called over `https://`"
    if not parts.hostname:
        return "has no host"
    try:
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError:
        return "port is not a number from 0 to 65535"
    if scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        return (
            f"plain `http://` to {parts.hostname} would send the credentials unencrypted; use "
            "`https://`, or set `allow_insecure_http = true` for this connection"
        )
    return None


class ConnectionConfig(_Model):
    vendor: Vendor = Field(description="Which LMS: `litmos`, `scormcloud` or `enabley`.")
    source: str = Field(default="hris", description="Name of the `[sources.*]` entry to sync.")
    allow_insecure_http: bool = Field(
        default=False,
        description=(
            "Allow a plain `http://` `base_url` to a host other than this machine (which sends "
            "the credentials unencrypted); without it only loopback hosts may use http."
        ),
    )
    base_url: str = Field(
        description=(
            "API base URL, e.g. `https://api.litmos.com/v1.svc`; `http://` only to "
            "127.0.0.1, `localhost` or `::1` (see `allow_insecure_http`); `sandbox:` runs the "
            "vendor simulator in-process."
        )
    )
    credentials: dict[str, SecretStr] = Field(
        description=(
            "Vendor credentials, always as `${ENV}` references. Litmos: `api_key`; "
            "SCORM Cloud: `app_id`, `secret_key`; Enabley: `client_id`, `client_secret`."
        )
    )
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description=(
            "Vendor settings that are not secret. Litmos: `source` (the required `source` "
            "parameter naming the calling app), `send_message` (email new users/assignments); "
            "SCORM Cloud: `assign_by`, `leavers`; Enabley: `sub_account`, `role`, "
            "`full_memberships` (README, Vendors)."
        ),
    )
    rate: RateConfig | None = Field(
        default=None,
        description="Override the vendor's documented rate rule (e.g. a contract with more).",
    )
    schedule: ScheduleConfig = Field(
        default_factory=ScheduleConfig, description="When the service runs this connection."
    )
    match_key: Literal["employee_id", "username", "email"] = Field(
        default="username",
        description="Which field matches a person to an existing LMS account (adoption).",
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description=(
            'LMS field -> canonical Roster field or template (`"{first_name} {last_name}"`). '
            "Empty uses the vendor's default mapping."
        ),
    )
    groups: list[str] = Field(
        default_factory=list,
        description="Names of the source's `groups` pushed as LMS teams/groups with members.",
    )
    rules: list[Rule] = Field(default_factory=list, description="Course assignment rules.")
    signup_links: list[SignupLink] = Field(
        default_factory=list,
        description=(
            "Self-enrollment links kept as declared (Litmos self-signup tokens, SCORM Cloud "
            "public invitations): created or updated after each real reconcile, never "
            "duplicated, never deleted; their usage is reported."
        ),
    )
    deprovision: DeprovisionConfig = Field(
        default_factory=DeprovisionConfig, description="Leavers, absentees and returners."
    )
    safeguards: SafeguardConfig = Field(
        default_factory=SafeguardConfig,
        description="Limits that hold a dangerous plan's risky ops (or refuse it).",
    )
    seats: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Licences this LMS account has (active users it may hold), if limited: creates "
            "and reactivations that would take the active synced users past it are held "
            "(`syncd held`) with a forecast of the overage, and go out by themselves once "
            "leavers free seats. Counts the users syncd manages (accounts made by hand "
            "count once `reconcile --full` adopts them)."
        ),
    )
    timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Deadline for each request as a whole (connecting, sending and reading the whole "
            "answer); running out is a retryable timeout."
        ),
    )
    max_rate_wait_seconds: float = Field(
        default=600.0,
        ge=0,
        description=(
            "Longest total time one run waits for the vendor's rate window after it refused "
            "requests as too fast (a slower vendor than `rate`, another process on the key). "
            "Refusals never use up an op's attempts; past this the run stops with the ops "
            "left waiting (exit 5), none dead-lettered."
        ),
    )

    @field_validator("base_url")
    @classmethod
    def _usable_url(cls, value: str, info: ValidationInfo) -> str:
        problem = base_url_problem(value, allow_insecure_http=info.data.get("allow_insecure_http"))
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("signup_links")
    @classmethod
    def _unique_links(cls, links: list[SignupLink]) -> list[SignupLink]:
        seen: dict[str, int] = {}
        for index, link in enumerate(links):
            first = seen.setdefault(link.name.casefold(), index)
            if first != index:
                raise ValueError(
                    f"[{index}].name `{link.name}` is already the name of [{first}]; "
                    "each link needs its own name"
                )
        return links

    def secret(self, name: str) -> str:
        """The plain value of one credential, for the connector's request signing only."""
        try:
            return self.credentials[name].get_secret_value()
        except KeyError:
            raise ConfigError(
                f"credential `{name}` is missing for this {self.vendor} connection",
                key=f"credentials.{name}",
            ) from None


# --------------------------------------------------------------------------- results


RESULT_COLUMNS = (
    "employee_id",
    "connection",
    "vendor",
    "item_kind",
    "item_id",
    "course_id",
    "item_name",
    "status",
    "completed",
    "passed",
    "percentage",
    "score",
    "seconds",
    "assigned_at",
    "started_at",
    "completed_at",
    "expires_at",
    "updated_at",
    "previous_status",
    "regressed_at",
    "seen_at",
    "username",
    "remote_user_id",
)
"""What a results export can hold, one column each; ``employee_id`` is the HRIS key."""

DEFAULT_RESULT_COLUMNS = (
    "employee_id",
    "connection",
    "item_kind",
    "item_id",
    "item_name",
    "status",
    "percentage",
    "score",
    "assigned_at",
    "started_at",
    "completed_at",
    "expires_at",
)


class ResultsConfig(_Model):
    start: date | None = Field(
        default=None,
        description=(
            "A connection's first result pull reads from this date (UTC). Unset: 90 days "
            "before that first pull."
        ),
    )
    overlap: str = Field(
        default="1h",
        description=(
            "Each pull re-reads this much before the last window it finished, so a change "
            "the vendor's clock stamped late is not missed (repeats are harmless)."
        ),
    )
    outbound: str = Field(
        default="outbound",
        description="Folder `syncd results export` writes into (relative to this file).",
    )
    name: str = Field(
        default="results",
        description="Start of the export's file name: `NAME-YYYYMMDDTHHMMSSZ.csv`.",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
    )
    format: Literal["csv", "xlsx", "json"] = Field(
        default="csv", description="File format of the export (`--format` overrides)."
    )
    columns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_RESULT_COLUMNS),
        description=(
            "Columns of the export, in order, of: " + ", ".join(f"`{c}`" for c in RESULT_COLUMNS)
        ),
    )
    dates: Literal["date", "datetime"] = Field(
        default="date",
        description="Dates as `YYYY-MM-DD`, or as UTC date-times `YYYY-MM-DDTHH:MM:SSZ`.",
    )
    changes_only: bool = Field(
        default=False,
        description=(
            "Export only the results that changed since the last export "
            "(`--changes`/`--all` override)."
        ),
    )

    @field_validator("overlap")
    @classmethod
    def _interval(cls, value: str) -> str:
        if parse_interval(value) is None:
            raise ValueError("must be an interval like `1h`, `30m` or `1d`")
        return value

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in RESULT_COLUMNS]
        if unknown:
            raise ValueError(
                f"unknown column(s) {', '.join(unknown)}; known: {', '.join(RESULT_COLUMNS)}"
            )
        if not value:
            raise ValueError("name at least one column")
        if len(set(value)) != len(value):
            raise ValueError("a column is named twice")
        return value

    @property
    def overlap_delta(self) -> timedelta:
        return parse_interval(self.overlap) or timedelta(0)


def _is_interval(value: str) -> str:
    if parse_interval(value) is None:
        raise ValueError("must be an interval like `30s`, `1m` or `1h`")
    return value


class ServiceConfig(_Model):
    http: str | None = Field(
        default=None,
        description=(
            "`HOST:PORT` of the health, metrics and status endpoint of `syncd run` (`--http` "
            "overrides); port 0 picks a free port (logged at start). Unset: no endpoint."
        ),
    )
    token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token the status page and `/status` require whenever it is set, as a "
            "`${ENV}` reference; it must be set when `http` is not a loopback address. Never "
            "logged; only `syncd run` needs its variable set."
        ),
    )

    @field_validator("token")
    @classmethod
    def _unset_when_empty(cls, value: SecretStr | None) -> SecretStr | None:
        """A variable left unset outside `syncd run` leaves no token (not an empty one)."""
        return value if value is not None and value.get_secret_value() else None

    drain_every: str = Field(
        default="1m",
        description=(
            "How often each connection's outbox is drained between roster syncs, so retries "
            "go out when they fall due (nothing is planned; a drain with nothing due costs no "
            "vendor call)."
        ),
    )
    budget: str = Field(
        default="30m",
        description=(
            "A run (roster sync, drain or result pull) longer than this is reported: a log "
            "line, `over budget` as the job's last outcome and a stuck connection for "
            "`/readyz` while it lasts. The run itself is not stopped."
        ),
    )
    stop_grace: str = Field(
        default="30s",
        description=(
            "How long SIGTERM waits for the runs in flight to finish their vendor call and "
            "stop; past it the process exits anyway (the outbox stays consistent)."
        ),
    )
    ownership_seconds: int = Field(
        default=30,
        ge=3,
        description=(
            "Time to live of a replica's ownership of a connection (a lease row renewed every "
            "third of it): a replica that dies loses its connections within this long and "
            "another replica takes them over."
        ),
    )
    watch_every: str = Field(
        default="5s",
        description="How often watched sources (`sources.*.watch`) are checked for a new export.",
    )

    @field_validator("drain_every", "budget", "stop_grace", "watch_every")
    @classmethod
    def _intervals(cls, value: str) -> str:
        return _is_interval(value)

    @field_validator("http")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            split_address(value)
        return value

    def seconds(self, name: Literal["drain_every", "budget", "stop_grace", "watch_every"]) -> float:
        """One of the interval fields in seconds."""
        return (parse_interval(getattr(self, name)) or timedelta(0)).total_seconds()


def split_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:8080` for IPv6) -> (host, port); a ValueError says what is wrong."""
    host, sep, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"`{text}` is not HOST:PORT (e.g. `127.0.0.1:8080`; port 0: any free)")
    return host, int(port)


class Config(_Model):
    state: StateConfig = Field(default_factory=StateConfig, description="State database.")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Logging.")
    sources: dict[str, SourceConfig] = Field(description="HRIS exports, by name.")
    connections: dict[str, ConnectionConfig] = Field(
        default_factory=dict, description="LMS accounts, by name."
    )
    results: ResultsConfig = Field(
        default_factory=ResultsConfig, description="Result pulls and the results export."
    )
    service: ServiceConfig = Field(
        default_factory=ServiceConfig, description="`syncd run`: the long-running service."
    )
    path: Annotated[Path | None, Field(exclude=True)] = None

    @model_validator(mode="after")
    def _references_exist(self) -> Config:
        for name, conn in self.connections.items():
            if conn.source not in self.sources:
                raise ValueError(
                    f"connections.{name}.source: no source named `{conn.source}` "
                    f"(have: {', '.join(sorted(self.sources))})"
                )
            src = self.sources[conn.source]
            known = {g.name for g in src.groups}
            for group in conn.groups:
                if group not in known:
                    raise ValueError(
                        f"connections.{name}.groups: source `{conn.source}` has no grouping "
                        f"`{group}`"
                    )
        return self

    def source_path(self, name: str) -> str:
        """The source's path or glob, made absolute against the config file's folder."""
        raw = self.sources[name].path
        base = self.path.parent if self.path else Path.cwd()
        return str(Path(raw) if Path(raw).is_absolute() else base / raw)

    def outbound_path(self) -> Path:
        """The results export folder, made absolute against the config file's folder."""
        raw = Path(self.results.outbound)
        base = self.path.parent if self.path else Path.cwd()
        return raw if raw.is_absolute() else base / raw

    def connection(self, name: str | None) -> dict[str, ConnectionConfig]:
        """The named connection, or all of them; an unknown name is a ConfigError."""
        if name is None:
            return dict(self.connections)
        if name not in self.connections:
            raise ConfigError(
                f"no connection named `{name}` (have: {', '.join(sorted(self.connections))})"
            )
        return {name: self.connections[name]}


# --------------------------------------------------------------------------- loading


def parse_interval(text: str) -> timedelta | None:
    """`90s`, `15m`, `2h`, `1d` -> timedelta; anything else -> None."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not match:
        return None
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


def _resolve_env(
    node: Any,
    where: str,
    missing: list[str],
    resolved: list[tuple[str, str]],
    *,
    require_credentials: bool = True,
    runs_service: bool = False,
) -> Any:
    """Replace `${NAME}` references everywhere; collect unset ones and what was substituted."""
    if isinstance(node, dict | list):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        done = {
            k: _resolve_env(
                v,
                (f"{where}.{k}" if where else str(k))
                if isinstance(node, dict)
                else f"{where}[{k}]",
                missing,
                resolved,
                require_credentials=require_credentials,
                runs_service=runs_service,
            )
            for k, v in items
        }
        return done if isinstance(node, dict) else list(done.values())
    if isinstance(node, str):

        def sub(match: re.Match[str]) -> str:
            value = os.environ.get(match.group(1))
            if value is None:
                optional = (not require_credentials and _CREDENTIALS.search(where)) or (
                    not runs_service and _SERVICE_SECRETS.search(where)
                )
                if not optional:
                    missing.append(f"{where}: environment variable {match.group(1)} is not set")
                return ""
            resolved.append((where, value))
            return value

        return _ENV_REF.sub(sub, node)
    return node


def _literal_secrets(node: Any, where: str = "") -> Iterator[str]:
    """Secrets written in the file itself: credential values and the passwords of URLs.

    With every value taken from ``${ENV}``, these are what the log redactor learns from a
    configuration: the one list behind every mask in logs, errors and command output.
    """
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _literal_secrets(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for value in node:
            yield from _literal_secrets(value, where)
    elif isinstance(node, str):
        if _CREDENTIALS.search(where):
            yield node
        for password in _URL_PASSWORD.findall(node):
            yield from (password, unquote(password))


def _format_errors(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        loc = loc.removeprefix(".")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        msg = msg.removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" if loc else msg)
    return lines


def load(
    path: str | Path,
    *,
    require_credentials: bool = True,
    sources_only: bool = False,
    runs_service: bool = False,
) -> Config:
    """Read, resolve and validate one TOML file; every problem is listed in one ConfigError.

    ``runs_service=True`` is for `syncd run`: only then must the variables of the secrets
    only the service uses (``service.token``) be set; elsewhere an unset one leaves it
    unset.

    ``require_credentials=False`` is for commands that never call an LMS: an unset variable
    in a connection's credentials then leaves that credential empty instead of being an
    error. ``sources_only=True`` is for commands that only read exports (`syncd validate`):
    the state database and the connections are left out, neither resolved nor checked, so
    an export can be checked on a machine without any of their secrets or hosts (`syncd
    config check` checks them).
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", path=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", path=str(path)) from None
    if sources_only:
        raw = {key: value for key, value in raw.items() if key not in ("state", "connections")}
    missing: list[str] = []
    substituted: list[tuple[str, str]] = []
    resolved = _resolve_env(
        raw,
        "",
        missing,
        substituted,
        require_credentials=require_credentials,
        runs_service=runs_service,
    )
    # Before validation, so that even the errors below cannot show one.
    REDACTOR.add_secrets([*(value for _where, value in substituted), *_literal_secrets(resolved)])
    problems = list(missing)
    config: Config | None = None
    try:
        config = Config.model_validate({**resolved, "path": path.resolve()})
    except ValidationError as exc:
        problems.extend(_format_errors(exc))
    if problems:
        listing = "\n  ".join(problems)
        raise ConfigError(f"{path}: invalid configuration:\n  {listing}", path=str(path))
    assert config is not None
    return config
