# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which objects an _info module reports: an exact name, a glob pattern, or all of them.

Both filters are checked at plan time like every other option, so a refused value fails the task
with one message and check mode sees the same refusal.

A pattern is matched in time linear in its stars: Python 3.8's fnmatch backtracks over every way
the stars could split a name, so a pattern such as ``*a*a*a*a*a*a*a*a*a*a*a*a*b`` against a long
name held the task for hours on a host with that Python.
"""

from __future__ import annotations

import fnmatch
from typing import Any, List, Mapping, Optional

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
            _check_pattern(pattern)
        return cls(name=name, pattern=pattern)

    def matches(self, name: str) -> bool:
        if self.name is not None:
            return name == self.name
        if self.pattern is not None:
            return glob_matches(name, self.pattern)
        return True


def _check_pattern(pattern: str) -> None:
    """Refuse a pattern fnmatch cannot read (Python 3.8 raised on a range such as ``[z-a]``)."""
    # Imported here: only a run given a pattern needs it.
    import re

    try:
        re.compile(fnmatch.translate(pattern))
    except re.error as error:
        raise PlanError("name_pattern %r is not a pattern fnmatch can read: %s" % (pattern, error))


def glob_matches(name: str, pattern: str) -> bool:
    """``fnmatch.fnmatchcase(name, pattern)``, without its backtracking: the parts between the stars
    match one character per token, so each is found at its leftmost place, in order."""
    parts = _star_free_parts(pattern)
    if len(parts) == 1:
        return _part_matches(name, parts[0])
    first, middle, last = parts[0], parts[1:-1], parts[-1]
    end = len(name) - len(last)
    if end < len(first) or not _part_matches(name[: len(first)], first) or not _part_matches(name[end:], last):
        return False
    position = len(first)
    for part in middle:
        size = len(part)
        found = next((at for at in range(position, end - size + 1) if _part_matches(name[at : at + size], part)), None)
        if found is None:
            return False
        position = found + size
    return True


def _part_matches(text: str, tokens: List[str]) -> bool:
    """Whether ``text`` is matched by ``tokens`` (no star among them: one character each)."""
    return len(text) == len(tokens) and fnmatch.fnmatchcase(text, "".join(tokens))


def _star_free_parts(pattern: str) -> List[List[str]]:
    """The pattern's tokens (a character, ``?``, or a bracket expression as fnmatch reads it) in the
    runs between its stars."""
    parts: List[List[str]] = [[]]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            parts.append([])
            i += 1
            continue
        j = i + 1
        if c == "[":
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            j = j + 1 if j < n else i + 1  # an unclosed [ is a character of its own
        parts[-1].append(pattern[i:j])
        i = j
    return parts


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
