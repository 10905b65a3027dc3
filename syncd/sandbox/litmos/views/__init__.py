"""The shape of every Litmos object on the wire, member by member, in wire order.

Orders follow recorded real traffic where it exists (user profile, list items, course,
module, team, learning path); members added to the API after those recordings come after
them, as ``Brand`` did on the wire. One module per area: :mod:`.people` (users, teams,
tokens), :mod:`.learning` (courses, paths, assignments, results), :mod:`.delta` (the
``/org/...`` rows). The endpoint modules use them as ``views.<shape>``.
"""

from syncd.sandbox.litmos.views.delta import (
    org_course,
    org_module_result,
    org_path,
    org_path_result,
    org_result,
    org_team,
    org_team_course,
    org_team_path,
    org_team_user,
    org_user,
    org_user_course,
)
from syncd.sandbox.litmos.views.learning import (
    course_assignment,
    course_detail,
    course_one,
    course_user,
    course_with_modules,
    module_item,
    path_as_course,
    path_assignment,
    path_one,
    result_detail,
)
from syncd.sandbox.litmos.views.people import (
    NO_MANAGER,
    USER_FIELDS,
    USER_ORDER,
    UserField,
    create_defaults,
    team_item,
    team_one,
    token,
    user_item,
    user_profile,
)

__all__ = [
    "NO_MANAGER",
    "USER_FIELDS",
    "USER_ORDER",
    "UserField",
    "course_assignment",
    "course_detail",
    "course_one",
    "course_user",
    "course_with_modules",
    "create_defaults",
    "module_item",
    "org_course",
    "org_module_result",
    "org_path",
    "org_path_result",
    "org_result",
    "org_team",
    "org_team_course",
    "org_team_path",
    "org_team_user",
    "org_user",
    "org_user_course",
    "path_as_course",
    "path_assignment",
    "path_one",
    "result_detail",
    "team_item",
    "team_one",
    "token",
    "user_item",
    "user_profile",
]
