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
        "create_group": 1,
        "link_group": 0,
        "update_group": 2,
        "add_members": 1,
        "remove_member": 1,
        "assign_courses": 1,
        "assign_learning_paths": 1,
        "unassign_course": 1,
        "unassign_learning_path": 1,
    },
    nested_groups=True,
)
"""What the plan knows about Litmos. Default fields map the canonical Roster fields
``username``, ``first_name``, ``last_name``, ``email`` and ``job_title`` to Litmos user
fields, in wire order; a connection's ``fields`` replace them."""
