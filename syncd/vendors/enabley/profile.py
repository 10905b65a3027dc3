"""What the plan knows about Enabley, as plain data (``syncd.plan.model.VendorProfile``)."""

from __future__ import annotations

from syncd.plan.model import VendorProfile

PROFILE = VendorProfile(
    vendor="enabley",
    default_fields={
        "username": "{username}",
        "firstName": "{first_name}",
        "lastName": "{last_name}",
        "email": "{email}",
    },
    groups=True,
    learning_paths=False,
    max_members_per_call=1,
    max_courses_per_call=1,
    calls={
        "create_user": 1,
        "link_user": 0,
        "update_user": 1,
        "deactivate_user": 1,
        "reactivate_user": 1,
        "delete_user": 1,
        "rekey_user": 1,
        "create_group": 1,
        "link_group": 0,
        "update_group": 1,
        "add_members": 1,
        "remove_member": 1,
        "replace_memberships": 1,
        "assign_courses": 1,
        "assign_group_courses": 1,
        "unassign_course": 1,
    },
    nested_groups=True,
    required_fields=("username",),
    max_lengths={},
    accounts=True,
    deactivation=True,
    complete_updates=True,
    group_assignment=True,
    rekey="identifier",
)
"""What the plan knows about Enabley (vendor-docs ``enabley-api.txt`` and part B of
``scormcloud-enabley-notes.md``).

Fields: ``username``, ``firstName``, ``lastName``, ``email``, ``phone`` and ``address`` are
``UserData`` fields; any other mapped field name is a custom attribute (``customAttributes``,
the BI attributes such as an employee's role). ``username`` is the only field a new user
must have (the upsert refuses a create without it); the docs give no lengths.

One call per op: the user upsert, a status change, a group upsert, one member (the membership
call takes one user: ``max_members_per_call=1``) and one channel per user
(``max_courses_per_call=1``). Two calls a connector makes outside any op are not priced here:
the token (``POST /api/v1/token``, once per token lifetime) and the group hierarchy (``GET
/api/v1/groups/hierarchy``, once per connector, only when a group is written).

``complete_updates``: every upsert writes the custom attributes as one object (whatever is
not in it is gone), so an update sends every managed field. ``group_assignment``: ``POST
/api/v1/channels/{c}/groups/{g}`` assigns a channel to a whole group (a live link). No
learning paths.

``rekey="identifier"``: a user's identifier is the HRIS key, and ``PUT
/api/v2/users/identityManagement`` changes it in one call (memberships, channels and
progress follow the user), so a changed key (the source's ``previous_key``) keeps the
account and its history."""
