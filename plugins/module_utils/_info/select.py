# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which objects an _info module reports: an exact name, a glob pattern, or all of them.

Both filters are checked at plan time like every other option, so a refused value fails the task
with one message and check mode sees the same refusal.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Mapping, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.names import MAX_NAME_BYTES, name_problem
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import check_strings, check_uri


class NameFilter(Record):
    """``name`` (exact) or ``pattern`` (shell glob, case-sensitive); neither selects everything."""

    name: Optional[str] = None
    pattern: Optional[str] = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any], what: str) -> "NameFilter":
        name = params.get("name")
        pattern = params.get("name_pattern")
        if name is not None and pattern is not None:
            raise PlanError("name and name_pattern are mutually exclusive; give one of them")
        if name is not None:
            problem = name_problem(name, what)
            if problem:
                raise PlanError("name: %s" % problem)
        if pattern is not None:
            if not pattern:
                raise PlanError("name_pattern must not be empty (leave it out to select every %s)" % what)
            if len(pattern.encode("utf-8")) > MAX_NAME_BYTES:
                raise PlanError("name_pattern is longer than %d bytes" % MAX_NAME_BYTES)
        return cls(name=name, pattern=pattern)

    def matches(self, name: str) -> bool:
        if self.name is not None:
            return name == self.name
        if self.pattern is not None:
            return fnmatch.fnmatchcase(name, self.pattern)
        return True


def check_common(params: Mapping[str, Any]) -> None:
    """What every _info module refuses first: control characters anywhere, an unusable URI."""
    check_strings(params)
    if params.get("uri") is not None:
        check_uri(params["uri"])


def pool_filter(params: Mapping[str, Any]) -> Optional[str]:
    pool = params.get("pool")
    if pool is not None:
        problem = name_problem(pool, "pool")
        if problem:
            raise PlanError("pool: %s" % problem)
    return pool
