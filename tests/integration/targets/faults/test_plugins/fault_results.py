# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the faults target."""

from __future__ import annotations

from typing import Any, Dict

# What a user should never have to read in a failed task's message.
UNCLEAR = ("Traceback (most recent call last)", "MODULE FAILURE", "Module failed:")


def clear_failure(result: Dict[str, Any]) -> bool:
    """Failed with a message of the module's own: no traceback, no crash output."""
    message = str(result.get("msg", ""))
    return (
        bool(result.get("failed"))
        and bool(message.strip())
        and result.get("exception", "(traceback unavailable)") == "(traceback unavailable)"
        and "module_stderr" not in result
        and not any(marker in message for marker in UNCLEAR)
    )


class TestModule:
    def tests(self) -> Dict[str, Any]:
        return {"clear_failure": clear_failure}
