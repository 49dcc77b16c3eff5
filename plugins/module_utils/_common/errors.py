# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One root for every error the collection reports as a task's failure message.

A module's entry catches ``RemotevirtError`` and fails the task with its text (and the plan so
far); anything else is a bug, reported in one line instead of a traceback.
"""

from __future__ import annotations

from typing import Any, Optional


class RemotevirtError(Exception):
    """A refusal or failure whose text is meant for the admin (secrets already left out)."""


class ReportedError(RemotevirtError):
    """A refusal or failure met while planning or applying, which a runner reports as its task's
    failure together with the plan so far (a refusal, libvirt's error, a download's or a lock's)."""


# What a runner turns into its RunError: OSError too, since a host file may fail any step.
REPORTED_ERRORS = (ReportedError, OSError)


class RunError(RemotevirtError):
    """A refusal or failure to report with fail_json; ``plan`` is what was planned, if anything."""

    def __init__(self, message: str, plan: Optional[Any] = None, changed: bool = False) -> None:
        super().__init__(message)
        self.plan = plan
        self.changed = changed
