"""Every Litmos GET endpoint, in both formats, and every list walked to its last page.

Litmos answers XML unless asked for JSON, and the two are the same data contract written
twice (WCF): a JSON object's members are the XML element's children, in the same order,
a JSON list is the XML root's items. Clients pick either (Trifoia's SDK only XML,
python-litmos-api only JSON), so each endpoint is checked in both, with the same data.
Every list is then paged one record at a time until the empty page the recorded clients
stop on (``[]`` in JSON, an empty root in XML), and must give back exactly the full list.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from syncd.sandbox.running import RunningSandbox, start_sandbox
from tests.unit.sandbox.kit import XSI, client

WORLD: dict[str, Any] = {
    "courses": [
        {"code": "SAFE101", "name": "Safety basics", "modules": [{"name": "A"}, {"name": "B"}]},
        {"code": "GDPR1", "name": "Data protection"},
        {"code": "LEAD1", "name": "Leading teams"},
    ],
    "learning_paths": [{"name": "Onboarding", "courses": ["SAFE101", "GDPR1"]}],
    "teams": [{"name": "Company"}, {"name": "Sales", "parent": "Company"}, {"name": "Ops"}],
    "users": [
        {
            "username": "ann.lee@example.com",
            "first_name": "Ann",
            "last_name": "Lee",
            "teams": ["Sales", "Ops"],
            "leader_of": ["Sales"],
            "courses": ["LEAD1"],
            "learning_paths": ["Onboarding"],
        },
        {
            "username": "bob.stone@example.com",
            "first_name": "Bob",
            "last_name": "Stone",
            "teams": ["Sales"],
            "courses": ["SAFE101", "LEAD1"],
            "learning_paths": ["Onboarding"],
        },
        {"username": "cy.archer@example.com", "first_name": "Cy", "last_name": "Archer"},
    ],
}

# path (with {names} filled from the world), XML root, XML item; extra query parameters.
LISTS: list[tuple[str, str, str, dict[str, str]]] = [
    ("/users", "Users", "User", {}),
    ("/users/details", "Users", "User", {}),
    ("/users/{ann}/teams", "Teams", "Team", {}),
    ("/users/{ann}/courses", "Courses", "Course", {}),
    ("/users/{ann}/learningpaths", "LearningPaths", "LearningPath", {}),
    ("/users/{bob}/courses/{safe}", "Courses", "Course", {}),
    ("/teams", "Teams", "Team", {}),
    ("/teams/{company}/teams", "Teams", "Team", {}),
    ("/teams/{sales}/users", "Users", "User", {}),
    ("/teams/{sales}/leaders", "Users", "User", {}),
    ("/teams/{sales}/courses", "Courses", "Course", {}),
    ("/teams/{sales}/learningpaths", "LearningPaths", "LearningPath", {}),
    ("/courses", "Courses", "Course", {}),
    ("/courses/{safe}/users", "Users", "User", {}),
    ("/courses/{safe}/modules", "Modules", "Module", {}),
    ("/learningpaths", "LearningPaths", "LearningPath", {}),
    ("/learningpaths/{path}/courses", "Courses", "Course", {}),
    ("/learningpaths/{path}/users", "Users", "User", {}),
    ("/results/details", "Users", "User", {"since": "2000-01-01"}),
]
# One course's result with its modules: a list of one, with no paging in the docs.
NOT_PAGED = frozenset({"/users/{bob}/courses/{safe}"})
SINGLES: list[tuple[str, str]] = [
    ("/users/{ann}", "User"),
    ("/users/ann.lee@example.com", "User"),
    ("/users/paginated", "UserCollection"),
    ("/teams/{sales}", "Team"),
    ("/courses/{safe}", "Course"),
    ("/courses/{safe}/details", "Course"),
    ("/learningpaths/{path}", "LearningPath"),
]


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[RunningSandbox, dict[str, str]]]:
    """One seeded account for every case here: all of them only read."""
    with start_sandbox("litmos") as running:
        assert running.admin is not None
        ids = running.admin.seed(WORLD)
        running.admin.set_rate(100_000, 60)
        names = {
            "ann": ids["users"]["ann.lee@example.com"],
            "bob": ids["users"]["bob.stone@example.com"],
            "safe": ids["courses"]["SAFE101"],
            "company": ids["teams"]["Company"],
            "sales": ids["teams"]["Sales"],
            "path": ids["learning_paths"]["Onboarding"],
        }
        with client(running) as api:
            api.post(f"/teams/{names['sales']}/courses", json=[{"Id": ids["courses"]["GDPR1"]}])
            api.post(f"/teams/{names['sales']}/learningpaths", json=[{"Id": names["path"]}])
        yield running, names


def _xml_record(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


def _get(running: RunningSandbox, path: str, params: dict[str, Any], fmt: str | None) -> Any:
    with client(running, fmt=fmt) as http:
        answer = http.get(path, params=params)
    assert answer.status_code == 200, (path, params, answer.text)
    if fmt == "json":
        return answer.json()
    root = ET.fromstring(answer.content)
    assert answer.headers["content-type"] == "application/xml; charset=utf-8"
    assert answer.text.startswith(f'<{root.tag} xmlns:i="{XSI}"'), answer.text[:80]
    return root


def _same_members(record: dict[str, Any], element: ET.Element, where: str) -> None:
    """A JSON object and its XML element: same members, same order, nested ones too."""
    assert list(record) == _xml_record(element), where
    for name, value in record.items():
        child = element.find(name)
        assert child is not None
        if isinstance(value, dict):
            _same_members(value, child, f"{where}.{name}")
        elif isinstance(value, list):
            assert len(value) == len(child), f"{where}.{name}"
            for index, (item, item_element) in enumerate(zip(value, child, strict=True)):
                _same_members(item, item_element, f"{where}.{name}[{index}]")


@pytest.mark.parametrize(("template", "root", "item", "extra"), LISTS, ids=[c[0] for c in LISTS])
def test_list_in_both_formats_and_paged_to_the_end(
    world: tuple[RunningSandbox, dict[str, str]],
    template: str,
    root: str,
    item: str,
    extra: dict[str, str],
) -> None:
    running, names = world
    path = template.format(**names)
    records = _get(running, path, extra, "json")
    assert isinstance(records, list) and records, f"{path}: the world should give it rows"
    tree = _get(running, path, extra, None)
    assert tree.tag == root
    assert [child.tag for child in tree] == [item] * len(records)
    for index, (record, element) in enumerate(zip(records, tree, strict=True)):
        _same_members(record, element, f"{path}[{index}]")
    if template in NOT_PAGED:
        return
    paged: list[Any] = []
    for start in range(len(records) + 1):
        page = _get(running, path, {**extra, "limit": "1", "start": str(start)}, "json")
        paged.extend(page)
        if not page:
            break
    assert paged == records, f"{path}: paging one by one must give the whole list"
    last = _get(running, path, {**extra, "limit": "1", "start": str(len(records))}, None)
    assert (last.tag, len(last), last.text) == (root, 0, None), "empty root past the end"


@pytest.mark.parametrize(("template", "tag"), SINGLES, ids=[c[0] for c in SINGLES])
def test_single_object_in_both_formats(
    world: tuple[RunningSandbox, dict[str, str]], template: str, tag: str
) -> None:
    running, names = world
    path = template.format(**names)
    record = _get(running, path, {}, "json")
    assert isinstance(record, dict)
    element = _get(running, path, {}, None)
    assert element.tag == tag
    _same_members(record, element, path)
