# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the faults target: read a background task's result, summarise a result."""

from __future__ import annotations

import json
import os
from typing import Any, Dict

SUMMARY_CHARS = 320


def task_result(path: str) -> Dict[str, Any]:
    """The result files/task.yml wrote to ``path``; a run that ended without one (its
    connection cut before the task returned) reads as failed with ``no_result``."""
    if not os.path.exists(path):
        return {"failed": True, "changed": False, "no_result": True, "msg": "no result: the run ended before the task returned"}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def outcome(result: Dict[str, Any]) -> str:
    """One line for the matrix: 'changed', 'unchanged' or 'failed (changed): <message>'."""
    if result.get("failed") or result.get("unreachable"):
        message = " ".join(str(result.get("msg", "")).split())
        if len(message) > SUMMARY_CHARS:
            message = message[:SUMMARY_CHARS] + "..."
        return "failed%s: %s" % (" (changed)" if result.get("changed") else "", message)
    return "changed" if result.get("changed") else "unchanged"


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"task_result": task_result, "outcome": outcome}
