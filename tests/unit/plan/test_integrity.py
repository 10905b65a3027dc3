"""The export integrity gate's checks, each with its threshold, over plain facts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from syncd.config import IntegrityConfig
from syncd.plan.integrity import ExportFacts, check, inputs_digest, parse_manifest

NOW = datetime(2026, 12, 8, 6, 0, tzinfo=UTC)
HEADER = ("Employee ID", "First", "Last", "Email", "Department")


def facts(**changes: object) -> ExportFacts:
    base: dict[str, object] = {
        "path": "/data/roster.csv",
        "sha256": "a" * 64,
        "mtime": NOW - timedelta(hours=1),
        "rows": 100,
        "header": HEADER,
        "encoding": "utf-8",
        "delimiter": ",",
        "empty_share": {"Email": 2.0, "Department": 0.0},
        "inputs": "cfg",
    }
    base.update(changes)
    return ExportFacts(**base)  # type: ignore[arg-type]


def judge(now: ExportFacts, last: ExportFacts | None, **kwargs: object):  # type: ignore[no-untyped-def]
    config = kwargs.pop("config", IntegrityConfig(same_file=True))
    return check(now, last, config, clock=NOW, **kwargs)  # type: ignore[arg-type]


def test_first_run_passes_every_comparison() -> None:
    verdict = judge(facts(encoding="cp1252", empty_share={"Email": 100.0}), None)
    assert not verdict.refused and verdict.nothing_new is None


def test_a_new_file_like_the_last_passes() -> None:
    assert not judge(facts(sha256="b" * 64, rows=101), facts()).refused


def test_reordered_header_passes() -> None:
    reordered = facts(sha256="b" * 64, header=tuple(reversed(HEADER)))
    assert not judge(reordered, facts()).refused


def test_header_case_and_spacing_are_not_a_change() -> None:
    respelt = facts(sha256="b" * 64, header=tuple(f" {h.upper()} " for h in HEADER))
    assert not judge(respelt, facts()).refused


def test_renamed_column_fails_naming_both() -> None:
    renamed = facts(sha256="b" * 64, header=(*HEADER[:3], "E-mail", HEADER[4]))
    verdict = judge(renamed, facts())
    assert verdict.check == "header"
    assert "removed Email" in str(verdict.message) and "added E-mail" in str(verdict.message)
    assert str(verdict.message).startswith("/data/roster.csv: ")


def test_added_and_removed_columns_fail() -> None:
    assert judge(facts(sha256="b" * 64, header=(*HEADER, "Site")), facts()).check == "header"
    assert judge(facts(sha256="b" * 64, header=HEADER[:-1]), facts()).check == "header"


def test_header_check_can_be_switched_off() -> None:
    off = IntegrityConfig(header=False)
    assert not judge(facts(sha256="b" * 64, header=HEADER[:-1]), facts(), config=off).refused


def test_encoding_change_fails() -> None:
    verdict = judge(facts(sha256="b" * 64, encoding="cp1252"), facts())
    assert verdict.check == "encoding"
    assert "cp1252" in str(verdict.message)


def test_bom_is_not_an_encoding_change() -> None:
    assert not judge(facts(sha256="b" * 64, encoding="utf-8-sig"), facts()).refused


def test_delimiter_change_fails() -> None:
    assert judge(facts(sha256="b" * 64, delimiter=";"), facts()).check == "delimiter"


def test_same_file_is_nothing_new_not_a_failure() -> None:
    last = facts(accepted_at=NOW - timedelta(minutes=15))
    verdict = judge(facts(), last)
    assert not verdict.refused
    assert verdict.nothing_new is not None and "already processed" in verdict.nothing_new


def test_same_file_under_other_inputs_is_news() -> None:
    assert judge(facts(inputs="changed mapping"), facts()).nothing_new is None


def test_same_file_rerun_on_purpose() -> None:
    assert judge(facts(), facts(), accept={"same_file"}).nothing_new is None
    assert judge(facts(), facts(), same_file=False).nothing_new is None
    assert judge(facts(), facts(), config=IntegrityConfig()).nothing_new is None, "off by default"


def test_stale_file_fails_past_max_age_only() -> None:
    config = IntegrityConfig(max_age="26h")
    assert not judge(facts(mtime=NOW - timedelta(hours=25)), None, config=config).refused
    verdict = judge(facts(mtime=NOW - timedelta(hours=27)), None, config=config)
    assert verdict.check == "stale" and "max_age = 26h" in str(verdict.message)


def test_no_age_limit_by_default() -> None:
    assert not judge(facts(mtime=NOW - timedelta(days=400)), None).refused


@pytest.mark.parametrize(("now_share", "refused"), [(22.0, False), (22.5, True), (100.0, True)])
def test_empty_share_rise_threshold(now_share: float, refused: bool) -> None:
    now = facts(sha256="b" * 64, empty_share={"Email": now_share, "Department": 0.0})
    verdict = judge(now, facts())
    assert verdict.refused is refused
    if refused:
        assert verdict.check == "empty_share" and "Email 2% ->" in str(verdict.message)


def test_empty_share_needs_enough_rows() -> None:
    small = facts(rows=10, sha256="b" * 64, empty_share={"Email": 100.0})
    assert not judge(small, facts(rows=10)).refused
    assert not judge(
        facts(sha256="b" * 64, empty_share={"Email": 90.0}),
        facts(),
        config=IntegrityConfig(max_empty_rise=None),
    ).refused


def test_manifest_counts() -> None:
    assert not judge(facts(), None, manifest=100).refused
    wrong = judge(facts(), None, manifest=120)
    assert wrong.check == "manifest" and "120" in str(wrong.message)
    assert judge(facts(), None, manifest="the manifest x is missing").check == "manifest"


def test_parse_manifest() -> None:
    assert parse_manifest(" 1200\n") == 1200
    assert parse_manifest("12 rows") is None
    assert parse_manifest("-3") is None
    assert parse_manifest("") is None


def test_accepting_one_check_reports_it_and_still_runs_the_others() -> None:
    now = facts(sha256="b" * 64, header=HEADER[:-1], encoding="cp1252")
    verdict = judge(now, facts(), accept={"header"})
    assert verdict.check == "encoding" and verdict.accepted == ("header",)
    assert not judge(now, facts(), accept={"header", "encoding"}).refused


def test_facts_from_before_the_gate_skip_comparisons() -> None:
    old = facts(header=(), encoding="", delimiter="", empty_share={}, inputs="")
    assert not judge(facts(sha256="b" * 64), old).refused


def test_inputs_digest_changes_with_settings_and_day() -> None:
    one = inputs_digest({"a": 1}, date(2026, 12, 8))
    assert one == inputs_digest({"a": 1}, date(2026, 12, 8))
    assert one != inputs_digest({"a": 2}, date(2026, 12, 8))
    assert one != inputs_digest({"a": 1}, date(2026, 12, 9))


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="interval"):
        IntegrityConfig(max_age="yesterday")
    with pytest.raises(ValueError, match="stem"):
        IntegrityConfig(manifest="{other}.count")
    with pytest.raises(ValueError, match="beside"):
        IntegrityConfig(manifest="../x.count")
