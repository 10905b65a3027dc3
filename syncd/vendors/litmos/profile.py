"""What the plan knows about Litmos, as plain data (``syncd.plan.model.VendorProfile``)."""

from __future__ import annotations

from syncd.plan.model import VendorProfile

PROFILE = VendorProfile(
    vendor="litmos",
    default_fields={
        "UserName": "{username}",
        "FirstName": "{first_name}",
        "LastName": "{last_name}",
        "Email": "{email}",
        "JobTitle": "{job_title}",
    },
    groups=True,
    learning_paths=True,
    max_members_per_call=None,
    max_courses_per_call=None,
    calls={
        "create_user": 1,
        "link_user": 0,
        "update_user": 2,
        "deactivate_user": 2,
        "reactivate_user": 2,
        "delete_user": 1,
        "rekey_user": 0,
        "create_group": 1,
        "link_group": 0,
        "update_group": 2,
        "add_members": 1,
        "remove_member": 1,
        "assign_courses": 1,
        "assign_group_courses": 1,
        "assign_learning_paths": 1,
        "unassign_course": 1,
        "unassign_learning_path": 1,
    },
    nested_groups=True,
    group_assignment=True,
    signup_links=True,
    signup_link_keys=frozenset({"kind", "code"}),
    rekey="mirror",
    required_fields=("UserName", "FirstName", "LastName"),
    max_lengths={
        "UserName": 255,
        "FirstName": 50,
        "LastName": 50,
        "Email": 255,
        "Skype": 100,
        "PhoneWork": 50,
        "PhoneMobile": 50,
        "Street1": 100,
        "Street2": 100,
        "CompanyName": 100,
    },
)
"""What the plan knows about Litmos. Default fields map the canonical Roster fields
``username``, ``first_name``, ``last_name``, ``email`` and ``job_title`` to Litmos user
fields, in wire order; a connection's ``fields`` replace them.

Required fields: a create (or the GET-modify-PUT of an update) with an empty ``UserName``,
``FirstName`` or ``LastName`` is answered 400 "Please check the xml/json in the body"
(every documented client validates these three; the SAP spec lists ``LastName`` and
``UserName``). Lengths are the documented maxima of the user object (vendor-docs
litmos-notes 1.3; ``CompanyName`` from the bulk import), refused with a 400 when exceeded.
``Email`` is not required: the account's own e-mail may be empty when the username is not
an address (``IsCustomUsername``).

``rekey="mirror"``: Litmos knows a user by its own ``Id`` (and username); the HRIS key lives
only in syncd's mirror, so a changed key (the source's ``previous_key``) is a mirror move at
no call, followed by the usual update when a mapped field (e.g. a username made from the
key) changes with it."""
