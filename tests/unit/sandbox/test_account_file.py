"""The `sandbox:` account file: plain checked JSON, never code, saved at every write."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syncd.sandbox import create_simulator
from syncd.sandbox.account_file import (
    FORMAT,
    VERSION,
    AccountFileError,
    account_path,
    keep_writes,
    read_account,
    restore_account,
    write_account,
)
from syncd.sandbox.litmos import activity
from syncd.sandbox.litmos.simulator import LitmosSimulator
from syncd.sandbox.litmos.store import TeamLink, Token
from syncd.sandbox.running import RunningSandbox
from tests.unit.sandbox.kit import SEED, client, new_user_body


def busy_account() -> LitmosSimulator:
    """A Litmos account with something in every table the file keeps."""
    simulator = create_simulator("litmos")
    assert isinstance(simulator, LitmosSimulator)
    simulator.seed(SEED)
    store = simulator.store
    ann = store.user_by_name("ann.lee@example.com")
    sales = store.team_by_name("Sales")
    assert ann is not None and sales is not None
    store.add_member(sales, ann)
    course = next(c for c in store.courses.values() if c.modules)
    path = next(iter(store.paths.values()))
    store.assign_course(ann, course)
    store.assign_path(ann, path)
    activity.apply(store, {"action": "complete", "user": ann.id, "course": course.id, "score": 90})
    activity.apply(store, {"action": "login", "user": ann.id})
    now = store.clock()
    store.team_courses[(sales.id, course.id)] = TeamLink(sales.id, course.id, now, now)
    store.team_paths[(sales.id, path.id)] = TeamLink(sales.id, path.id, now, now, library=True)
    token = Token(store.new_id(), "WELCOME", 1, course.id, True, 5, "2030-01-01")
    store.tokens[token.id] = token
    store.delete_user(store.user_by_name("bob.stone@example.com"))  # type: ignore[arg-type]
    return simulator


def saved(tmp_path: Path, simulator: LitmosSimulator) -> Path:
    path = account_path("lms", tmp_path)
    write_account(path, "litmos", simulator.snapshot())
    return path


def test_the_file_restores_every_table_and_new_ids_continue(tmp_path: Path) -> None:
    first = busy_account()
    path = saved(tmp_path, first)
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == FORMAT
    second = create_simulator("litmos")
    assert isinstance(second, LitmosSimulator)
    store = second.store
    assert restore_account(second, path, "litmos") is True
    assert second.store is store, "routes hold the store object: restore must be in place"
    for table in ("users", "teams", "memberships", "courses", "modules", "paths"):
        assert getattr(store, table) == getattr(first.store, table), table
    for table in ("assignments", "path_assignments", "team_courses", "team_paths", "tokens"):
        assert getattr(store, table) == getattr(first.store, table), table
    assert second.keys == first.keys
    for course in store.courses.values():
        assert all(store.modules[m.id] is m for m in course.modules), "one object per module"
    assert store.new_id() == first.store.new_id(), "ids continue, never reused"
    assert store.next_original_id() == first.store.next_original_id()


def test_no_file_restores_nothing(tmp_path: Path) -> None:
    simulator = create_simulator("litmos")
    assert isinstance(simulator, LitmosSimulator)
    assert restore_account(simulator, account_path("lms", tmp_path), "litmos") is False
    assert read_account(tmp_path / "absent.state", "litmos") is None


class _Planted:
    """Unpickling this creates the marker file: what a crafted account file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (Path.touch, (self.marker,))


def test_a_pickle_payload_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    path = account_path("lms", tmp_path)
    path.write_bytes(pickle.dumps((1, _Planted(marker), {})))
    simulator = create_simulator("litmos")
    assert isinstance(simulator, LitmosSimulator)
    with pytest.raises(AccountFileError) as refused:
        restore_account(simulator, path, "litmos")
    assert not marker.exists(), "the file's content was executed"
    assert str(refused.value) == (
        f"{path}: is not a syncd sandbox account file (not JSON); delete it to start over"
    )


def _envelope(account: Any, **changes: Any) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "vendor": "litmos", "account": account, **changes}


def _edited(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    account = json.loads(busy_account().snapshot())
    edit(account)
    return _envelope(account)


BAD_FILES: dict[str, tuple[Any, str]] = {
    "truncated": (b'{"format": "syncd-sandbox-account", "vers', "not JSON"),
    "not utf-8": (b"\xff\xfe{}", "not JSON"),
    "a list": ([1, 2], "is not a syncd sandbox account file"),
    "another format": ({"format": "other"}, "is not a syncd sandbox account file"),
    "the pickle version": (_envelope({}, version=1), "format version 1, this syncd reads 2"),
    "another vendor": (_envelope({}, vendor="enabley"), "holds a 'enabley' account"),
    "no account": (_envelope([]), "has no account object"),
    "missing table": (
        _edited(lambda a: a.pop("teams")),
        "is not a valid litmos account: teams: Field required",
    ),
    "wrong type": (
        _edited(lambda a: a["users"][0].update(created="yesterday")),
        "users.0.created: Input should be a valid datetime",
    ),
    "unknown field": (
        _edited(lambda a: a["teams"][0].update(script="x")),
        "teams.0.script: Unexpected keyword argument",
    ),
    "date without zone": (
        _edited(lambda a: a["users"][0].update(created="2024-01-01T00:00:00")),
        "User.created: 2024-01-01 00:00:00 has no time zone",
    ),
    "duplicate id": (
        _edited(lambda a: a["users"].append(a["users"][0])),
        "users: ",
    ),
    "dangling team": (
        _edited(lambda a: a["memberships"][0].update(team_id="nope")),
        "memberships: team_id 'nope' is not in teams",
    ),
    "bad random state": (
        _edited(lambda a: a.update(random_state=[3, [1, 2], None])),
        "random_state: not a random generator state",
    ),
}


@pytest.mark.parametrize("content, reason", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_one_line_naming_it_and_changes_nothing(
    tmp_path: Path, content: Any, reason: str
) -> None:
    path = account_path("lms", tmp_path)
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    simulator = busy_account()
    before = simulator.snapshot()
    with pytest.raises(AccountFileError) as refused:
        restore_account(simulator, path, "litmos")
    message = str(refused.value)
    assert message.startswith(f"{path}: ") and reason in message
    assert message.endswith("; delete it to start over") and "\n" not in message
    assert simulator.snapshot() == before, "a refused file leaves the account as it was"


def test_a_save_replaces_the_file_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    simulator = busy_account()
    path = saved(tmp_path, simulator)
    write_account(path, "litmos", simulator.snapshot())
    assert sorted(os.listdir(tmp_path)) == [path.name]
    assert read_account(path, "litmos") == json.loads(simulator.snapshot())


def test_every_write_is_saved_before_it_is_answered(
    litmos_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The mirror records what the answer confirmed: the file must already hold it."""
    simulator = litmos_sandbox.simulator
    assert isinstance(simulator, LitmosSimulator)
    path = account_path("lms", tmp_path)
    keep_writes(simulator, path, "litmos")
    with client(litmos_sandbox) as api:
        assert api.get("/users").status_code == 200
        assert not path.exists(), "a read saves nothing"
        created = api.post("/users", json=new_user_body("jo@example.com"))
        assert created.status_code == 201
        kept = read_account(path, "litmos")
        assert kept is not None
        assert created.json()["Id"] in {u["id"] for u in kept["users"]}
        user_id = created.json()["Id"]
        assert api.delete(f"/users/{user_id}").status_code == 200
        kept = read_account(path, "litmos")
        assert kept is not None and kept["users"] == []


def test_a_refused_write_is_saved_too(litmos_sandbox: RunningSandbox, tmp_path: Path) -> None:
    """Whatever a request did before it failed is kept: the hook runs on every outcome."""
    simulator = litmos_sandbox.simulator
    assert isinstance(simulator, LitmosSimulator)
    saves: list[int] = []
    simulator.on_write = lambda: saves.append(1)
    with client(litmos_sandbox) as api:
        assert api.delete("/users/nobody").status_code == 404
    assert saves == [1]
