"""What a registration accumulates beside its current progress: past instances, launches,
xAPI statements and registration-level settings; and the learner PII erase.

The reference (scormcloud-v2-reference.md) gives only shapes, so these are choices:

- ``POST /registrations/{id}/instances`` freezes the current attempt as a past instance;
  ``GET .../instances`` lists the past ones and the current one, oldest first, ``since`` /
  ``until`` applying to each instance's ``updated``.
- A launch starts with each learner session (the admin ``start`` activity, or the first
  progress of an instance) and follows that session's progress.
- Progress is reported as ADL verbs: ``initialized`` on a launch, ``progressed``,
  ``completed``, then ``passed``/``failed`` when a success status is set; the actor is the
  learner as an account on ``https://cloud.scorm.com`` with the registration's names.
- Registration settings: any setting id may be set; the listing shows the postback
  settings the notes name (A6) with their defaults and every explicitly set one.
- ``POST /learner/{id}/delete-information`` is asynchronous ("a background process has
  been started"): it later blanks the e-mail and names on every registration of the
  learner (what the registrations and statements show of them); the ids stay.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from syncd.sandbox.scormcloud.model import (
    AppData,
    InstanceRecord,
    LaunchRecord,
    Registration,
    StatementRecord,
    Store,
)
from syncd.sandbox.scormcloud.wire import ApiError, bad_request, not_found

# settingId -> (default, description): the registration settings the notes name (A6).
KNOWN_SETTINGS: dict[str, tuple[str, str]] = {
    "ApiRollupRegistrationPostBackUrl": ("", "URL registration results are posted to"),
    "ApiRollupRegistrationAuthType": ("form", "How the postback authenticates"),
    "ApiRollupRegistrationAuthUser": ("", "User name of the postback"),
    "ApiRollupRegistrationAuthPassword": ("", "Password of the postback"),
    "ApiRollupRegistrationFormat": ("course", "course, activity or full"),
    "ApiRollupRegistrationIsJson": ("false", "Post JSON instead of XML"),
}


@dataclass
class InstanceView:
    """One instance as the listing sees it: its number doubles as its order."""

    seq: int
    updated: datetime
    registration: Registration


def archive_instance(reg: Registration) -> None:
    """Keep the current attempt before a new instance resets it."""
    reg.past_instances.append(
        InstanceRecord(
            instance=reg.instance,
            course_version=reg.course_version,
            updated=reg.updated,
            completion=reg.completion,
            completion_amount=reg.completion_amount,
            success=reg.success,
            score=reg.score,
            total_seconds=reg.total_seconds,
            first_access=reg.first_access,
            last_access=reg.last_access,
            completed_date=reg.completed_date,
        )
    )


def instances(reg: Registration) -> list[InstanceView]:
    """Every instance, past ones rebuilt as registrations of their own time."""
    views = [
        InstanceView(
            seq=past.instance,
            updated=past.updated,
            registration=replace(
                reg,
                instance=past.instance,
                course_version=past.course_version,
                updated=past.updated,
                completion=past.completion,
                completion_amount=past.completion_amount,
                success=past.success,
                score=past.score,
                total_seconds=past.total_seconds,
                first_access=past.first_access,
                last_access=past.last_access,
                completed_date=past.completed_date,
            ),
        )
        for past in reg.past_instances
    ]
    views.append(InstanceView(seq=reg.instance, updated=reg.updated, registration=reg))
    return views


def record_activity(
    store: Store, reg: Registration, action: str, seconds: float, now: datetime
) -> None:
    """Follow a learner session (called after the registration's progress has moved)."""
    current = [launch for launch in reg.launches if launch.instance == reg.instance]
    if action == "start" or not current:
        reg.launches.append(
            LaunchRecord(
                id=str(uuid.uuid4()),
                instance=reg.instance,
                launch_time=now,
                last_runtime_update=now,
            )
        )
        _state(store, reg, "initialized", now)
    launch = reg.launches[-1]
    launch.last_runtime_update = now
    launch.total_seconds += seconds
    launch.completion = reg.completion
    launch.success = reg.success
    launch.score = reg.score
    if action != "start":
        launch.exit_time = now
        _state(store, reg, "completed" if action == "complete" else "progressed", now)
        if reg.success in ("PASSED", "FAILED"):
            _state(store, reg, "passed" if reg.success == "PASSED" else "failed", now)


def _state(store: Store, reg: Registration, verb: str, now: datetime) -> None:
    reg.statements.append(
        StatementRecord(
            id=str(uuid.uuid4()),
            verb=verb,
            instance=reg.instance,
            timestamp=now,
            seq=store.next_seq(),
            score=reg.score,
            success={"PASSED": True, "FAILED": False}.get(reg.success),
            completion=True if reg.completion == "COMPLETED" else None,
        )
    )


def set_settings(reg: Registration, body: object) -> None:
    """``SettingsPostSchema``: every entry is checked before any is kept."""
    schema = "SettingsPostSchema"
    if not isinstance(body, dict) or not isinstance(body.get("settings"), list):
        raise bad_request(f"{schema}: 'settings' is required and must be a list")
    values: dict[str, str] = {}
    for index, entry in enumerate(body["settings"]):
        where = f"{schema}.settings[{index}]"
        if not isinstance(entry, dict):
            raise bad_request(f"{where}: must be an object")
        setting_id = entry.get("settingId")
        if not isinstance(setting_id, str) or not setting_id.strip():
            raise bad_request(f"{where}: 'settingId' is required")
        value = entry.get("value")
        if value is None:
            raise bad_request(f"{where}: 'value' is required")
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str | int | float):
            raise bad_request(f"{where}: 'value' must be a string")
        explicit = entry.get("explicit")
        if explicit is not None and not isinstance(explicit, bool):
            raise bad_request(f"{where}: 'explicit' must be true or false")
        values[setting_id.strip()] = str(value)
    reg.settings.update(values)


def setting_items(reg: Registration, *, metadata: bool) -> list[dict[str, object]]:
    """``SettingItem`` rows: the known settings and every explicit one, by id."""
    items = []
    for setting_id in sorted(set(KNOWN_SETTINGS) | set(reg.settings)):
        default, description = KNOWN_SETTINGS.get(setting_id, ("", ""))
        explicit = reg.settings.get(setting_id)
        item: dict[str, object] = {
            "id": setting_id,
            "effectiveValue": default if explicit is None else explicit,
            "effectiveValueSource": "default" if explicit is None else "registration",
        }
        if explicit is not None:
            item["explicitValue"] = explicit
        if metadata:
            item["metadata"] = {
                "default": default,
                "dataType": "string",
                "settingDescription": description,
                "level": "registration",
                "learningStandards": [],
                "validValues": [],
            }
        items.append(item)
    return items


def erase_learner(store: Store, app: AppData, learner_id: str, user_email: str | None) -> None:
    """``POST /learner/{id}/delete-information``: checked now, carried out later."""
    if not user_email:
        raise bad_request("'userEmail' is required")
    if "@" not in user_email.strip(" @"):
        raise ApiError(403, f"'userEmail' [{user_email}] is not a primary e-mail of this realm")
    if not app.registrations_of_learner(learner_id) and learner_id not in app.learner_tags:
        raise not_found(f"Could not find learner [{learner_id}]")

    def apply() -> None:
        for reg in app.registrations_of_learner(learner_id):
            reg.learner.email = None
            reg.learner.first_name = None
            reg.learner.last_name = None
            reg.updated = store.stamp()

    store.defer(apply)
