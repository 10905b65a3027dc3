"""The leaver and mover learning policy as a user meets it through `syncd results pull`
and `syncd reconcile` on the Litmos sandbox: a leaver's one incomplete course is unassigned
(one call) before the deactivation while the completed one stays, and a mover under each
``mover_courses`` setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.e2e.kit import Setup, company, result, write_export

RULES = """
[[connections.lms.rules]]
name = "sales"
when = [{{ field = "department", equals = "Sales" }}]
assign = {{ courses = ["{crm}"] }}

[[connections.lms.rules]]
name = "support"
when = [{{ field = "department", equals = "Support" }}]
assign = {{ courses = ["{desk}"] }}

[results]
start = "{start}"
outbound = "outbound"
"""


def prepared(world, size: int = 6) -> tuple[Setup, list[dict[str, str]], dict[str, str]]:
    """A synced company with a course per department and results pulled once, the first
    Sales person having completed the course everyone gets."""
    people = company(size)
    setup = world(people)
    seeded = setup.sandbox.admin.seed(
        {"courses": [{"code": "CRM", "name": "CRM"}, {"code": "DESK", "name": "Help desk"}]}
    )
    courses = {"crm": seeded["courses"]["CRM"], "desk": seeded["courses"]["DESK"]}
    start = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    text = setup.config.read_text(encoding="utf-8")
    setup.config.write_text(text + RULES.format(start=start, **courses), encoding="utf-8")
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    sales = next(p for p in people if p["Department"] == "Sales")
    setup.sandbox.admin.post(
        "/activity",
        {
            "user": sales["Username"],
            "course": setup.course,
            "action": "complete",
            "at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        },
    )
    pulled = setup.syncd("results", "pull")
    assert pulled.returncode == 0, result(pulled)
    return setup, people, courses


def policy(setup: Setup, **settings: str) -> None:
    lines = "".join(f'{key} = "{value}"\n' for key, value in settings.items())
    text = setup.config.read_text(encoding="utf-8")
    marker = "\n[connections.lms.deprovision]\n"
    if marker in text:
        head, _, _ = text.partition(marker)
        text = head
    setup.config.write_text(text + marker + lines, encoding="utf-8")


def calls(setup: Setup, mark: int) -> list[tuple[str, str]]:
    return [(e["method"], e["path"]) for e in setup.writes_since(mark)]


def unassigns(found: list[tuple[str, str]]) -> list[str]:
    return [path for method, path in found if method == "DELETE" and "/courses/" in path]


def export(setup: Setup, people: list[dict[str, str]]) -> None:
    write_export(setup.export, people)


def test_a_leaver_loses_only_the_incomplete_course_before_deactivation(world):
    setup, people, courses = prepared(world)
    leaver = next(p for p in people if p["Department"] == "Sales")
    policy(setup, leaver_courses="unassign_incomplete")
    export(setup, [{**p, "Status": "Terminated"} if p is leaver else p for p in people])
    mark = setup.log_mark()
    run = setup.reconcile()
    assert run.returncode == 0, result(run)
    found = calls(setup, mark)
    (gone,) = unassigns(found)
    assert courses["crm"] in gone and setup.course not in gone
    deactivation = [i for i, (method, path) in enumerate(found) if method == "PUT"]
    assert deactivation, found
    assert found.index(("DELETE", gone)) < deactivation[-1], "unassigned before deactivated"


def test_a_mover_under_each_policy(world):
    setup, people, courses = prepared(world, size=12)
    movers = [p for p in people if p["Department"] == "Sales"][:3]
    assert len(movers) == 3
    moved: list[dict[str, str]] = []
    for setting, mover in zip(("keep", "unassign_incomplete", "reassign"), movers, strict=True):
        policy(setup, mover_courses=setting)
        moved.append(mover)
        export(setup, [{**p, "Department": "Support"} if p in moved else p for p in people])
        mark = setup.log_mark()
        run = setup.reconcile()
        assert run.returncode == 0, result(run)
        found = calls(setup, mark)
        gone = unassigns(found)
        assigned = [p for m, p in found if m == "POST" and "courses" in p]
        assert assigned, f"{setting}: the new group's course is assigned"
        if setting == "keep":
            assert gone == [], found
        elif setting == "unassign_incomplete":
            assert len(gone) == 1 and courses["crm"] in gone[0], found
        else:
            assert len(gone) == 2, found
            assert any(courses["crm"] in g for g in gone)
            assert any(setup.course in g for g in gone)
            assert found.index(("DELETE", next(g for g in gone if setup.course in g))) < max(
                i for i, (m, p) in enumerate(found) if m == "POST"
            ), "withdrawn, then assigned again"
