"""The saved plan document (`syncd plan --out`, `syncd apply`): every op kind survives the
round trip, the digest refuses an edited file, and anything that is not a plan of this
format is refused with one plain line, never half-read."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from syncd.plan.absence import Absence
from syncd.plan.hold import Hold
from syncd.plan.integrity import ExportFacts
from syncd.plan.model import Plan
from syncd.plan.ops import OP_TYPES
from syncd.plan.safeguards import SafeguardCheck
from syncd.plan.saved import (
    FORMAT,
    InvalidPlanFile,
    SavedSource,
    build_document,
    build_entry,
    canonical,
    dumps,
    parse,
)
from syncd.plan.summary import describe
from tests.unit.plan.kit import EVERY_OP, LITMOS_LIKE

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
SOURCE = SavedSource("hris", "/data/export.csv", "ab" * 32, 1234, NOW, 10, 9, 1)
FACTS = ExportFacts(
    path="/data/export.csv",
    sha256="ab" * 32,
    mtime=NOW,
    rows=10,
    header=("Employee ID", "Name"),
    encoding="utf-8",
    delimiter=",",
    empty_share={"Name": 0.0},
    inputs="cd" * 8,
)
TRIPPED = SafeguardCheck("max_deactivations", 7, 5, True, "7 deactivations, limit 5")


def plan(**changes: Any) -> Plan:
    values: dict[str, Any] = {
        "connection": "lms",
        "profile": LITMOS_LIKE,
        "ops": tuple(EVERY_OP),
        "checks": (TRIPPED,),
        "pending": (("E9", "pending deactivation (absent from 1 of 2 exports)"),),
        "absence": {"E9": Absence(1, NOW, "ab" * 32, pending=True)},
        "held": {EVERY_OP[3].key: Hold("max_deactivations", "7 deactivations, limit 5")},
    }
    values.update(changes)
    return Plan(**values)


def text_of(*entries: dict[str, Any]) -> str:
    return dumps(build_document(entries, created_at=NOW, version="0.1.0", config="/etc/s.toml"))


def entry_of(made: Plan | None = None, **changes: Any) -> dict[str, Any]:
    return build_entry(
        made or plan(**changes),
        source=SOURCE,
        facts=FACTS,
        mirror_version=4,
        today=date(2026, 5, 4),
    )


def test_every_op_kind_and_what_apply_needs_survive_the_round_trip():
    assert {op.kind for op in EVERY_OP} == set(OP_TYPES)
    saved = parse(text_of(entry_of()))
    assert (saved.created_at, saved.syncd_version, saved.config) == (NOW, "0.1.0", "/etc/s.toml")
    (entry,) = saved.connections
    assert entry.ops == tuple(EVERY_OP)
    assert [op.depends_on for op in entry.ops] == [op.depends_on for op in EVERY_OP]
    assert (entry.name, entry.vendor, entry.refused) == ("lms", LITMOS_LIKE.vendor, False)
    assert (entry.mirror_version, entry.today, entry.source, entry.facts) == (
        4,
        date(2026, 5, 4),
        SOURCE,
        FACTS,
    )
    assert entry.held == plan().held
    assert entry.absence == plan().absence
    assert entry.pending == plan().pending


def test_the_summary_is_what_a_reviewer_reads():
    lines = parse(text_of(entry_of())).connections[0].summary
    assert lines[0].startswith(
        f"lms ({LITMOS_LIKE.vendor}): changes pending: {len(EVERY_OP)} op(s)"
    )
    assert "safeguard max_deactivations: tripped: 7 deactivations, limit 5" in lines
    held = EVERY_OP[3]
    assert f"held {describe(held)}: 7 deactivations, limit 5" in lines
    assert "pending E9: pending deactivation (absent from 1 of 2 exports)" in lines


def test_a_refused_plan_is_saved_marked_refused():
    entry = entry_of(refusal=TRIPPED, held={})
    (saved,) = parse(text_of(entry)).connections
    assert saved.refused and saved.refusal == "7 deactivations, limit 5"
    assert any(line.startswith("REFUSED by max_deactivations") for line in saved.summary)


def test_the_file_is_pretty_json_with_a_digest_over_the_ops():
    text = text_of(entry_of())
    data = json.loads(text)
    assert data["format"] == FORMAT and text.startswith("{\n  ")
    assert len(data["connections"][0]["ops_digest"]) == 64
    assert canonical({"b": 1, "a": "é"}) == '{"a":"é","b":1}'


@pytest.mark.parametrize(
    "edit",
    [
        lambda e: e["ops"][0]["payload"].update(name="Someone else's team"),
        lambda e: e["ops"].pop(),
        lambda e: e["held"].clear(),
        lambda e: e.update(mirror_version=5),
        lambda e: e["source"].update(sha256="00" * 32),
        lambda e: e.update(absence=None),
        lambda e: e.update(baseline=not e["baseline"]),
    ],
    ids=["op", "op_removed", "holds", "version", "checksum", "absence", "baseline"],
)
def test_an_edited_plan_is_refused(edit):
    entry = entry_of()
    edit(entry)
    with pytest.raises(InvalidPlanFile) as raised:
        parse(text_of(entry))
    assert str(raised.value) == (
        "connection lms: the plan was edited after it was made (ops_digest does not match); "
        "make a new plan"
    )


def _without(key: str) -> str:
    entry = entry_of()
    del entry[key]
    return text_of(entry)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not a syncd plan file: not JSON"),
        ("[1, 2]", "not a syncd plan file: no `format` field"),
        ('{"format": "syncd-plan/2"}', "plan file format is 'syncd-plan/2'; this syncd reads"),
        (f'{{"format": "{FORMAT}"}}', "plan file: `connections` is missing"),
        (_without("mirror_version"), "connection lms: `mirror_version` is missing"),
        (_without("source"), "connection lms: `source` is missing"),
        (_without("ops_digest"), "connection lms: `ops_digest` is missing"),
    ],
)
def test_what_is_not_a_plan_gives_one_clear_line(text, message):
    with pytest.raises(InvalidPlanFile) as raised:
        parse(text)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_an_unknown_op_kind_is_refused_by_name():
    entry = entry_of()
    entry["ops"][0]["kind"] = "drop_database"
    with pytest.raises(InvalidPlanFile, match="lms op 0: unknown op kind 'drop_database'"):
        parse(text_of(entry))


def test_fields_that_do_not_fit_the_op_kind_are_refused():
    entry = entry_of()
    entry["ops"][0]["payload"]["shell"] = "rm -rf /"
    with pytest.raises(InvalidPlanFile, match=r"op 0: its fields do not match a \w+ op"):
        parse(text_of(entry))


def test_a_truncated_export_is_saved_as_no_baseline():
    shrunk = SafeguardCheck("min_source_ratio", 0.5, 0.9, True, "the export has 5 rows")
    assert entry_of(checks=(shrunk,))["baseline"] is False
    assert parse(text_of(entry_of(checks=(shrunk,)))).connections[0].baseline is False
    assert parse(text_of(entry_of())).connections[0].baseline is True
    overridden = entry_of(plan(checks=(shrunk,), overridden=True))
    assert overridden["baseline"] is True
