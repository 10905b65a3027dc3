"""What the plan knows about SCORM Cloud, as plain data (``syncd.plan.model.VendorProfile``)."""

from __future__ import annotations

from syncd.plan.model import VendorProfile

PROFILE = VendorProfile(
    vendor="scormcloud",
    default_fields={
        "email": "{email}",
        "firstName": "{first_name}",
        "lastName": "{last_name}",
    },
    groups=False,
    learning_paths=False,
    nested_groups=False,
    accounts=False,
    deactivation=True,
    complete_updates=True,
    group_assignment=False,
    signup_links=True,
    signup_link_keys=frozenset({"tags"}),
    max_members_per_call=None,
    max_courses_per_call=1,
    calls={
        "create_user": 0,
        "link_user": 0,
        "update_user": 1,
        "deactivate_user": 0,
        "reactivate_user": 0,
        "delete_user": 2,
        "assign_courses": 1,
        "assign_course_people": 2,
        "unassign_course": 1,
    },
    required_fields=(),
    max_lengths={},
)
"""What the plan knows about SCORM Cloud (vendor-docs scormcloud-enabley-notes A2-A8).

There are no learner objects, groups or learning paths: a learner exists only through its
registrations (learner x course), so a create costs no call (``accounts=False``) and an
assignment of one course is one ``POST /registrations`` (``max_courses_per_call=1``, so a
retry never repeats another course). ``POST /learner/{id}/updateInfo`` blanks a field sent
empty, so every update carries the complete details (``complete_updates``). Leavers follow
the connection's ``leavers`` option: ``keep`` (the default, priced here: no call) or
``delete_incomplete`` (one listing plus one DELETE per incomplete registration). A
``delete_user`` is a listing plus a DELETE per registration, priced for one registration.
``assign_by = "private_invitation"`` costs 2 calls per assignment (the invitation and at
least one job-status read), more than the 1 priced here; an invitation takes many
addresses, so the connection's profile (``ScormCloudConnector.profile_for``) then lets the
plan use ``assign_course_people`` (one course, up to 100 people: 2 calls, priced here but
planned only then) and requires an e-mail address (a person without one is skipped by
the plan, not sent).
"""
