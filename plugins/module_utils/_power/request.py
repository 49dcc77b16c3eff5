# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A power request: virt_guest_state's parameters, validated (refusals at plan time, so check mode
predicts them)."""

from __future__ import annotations

from typing import Any, Mapping

from ansible_collections.remotevirt.install.plugins.module_utils._common.names import name_problem
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import HOST_URI, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import ascii_int, check_strings, check_uri

STATES = ("running", "shutdown", "stopped", "restarted", "paused")
DEFAULT_SHUTDOWN_TIMEOUT = 120
# A day: longer is a typo, and the run holds the guest's lock while it waits.
MAX_SHUTDOWN_TIMEOUT = 86400


class PowerRequest(Record):
    name: str
    state: str
    uri: str = HOST_URI
    shutdown_timeout: int = DEFAULT_SHUTDOWN_TIMEOUT
    destroy_on_timeout: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "PowerRequest":
        check_strings(params)
        uri = params.get("uri") or HOST_URI
        check_uri(uri)
        problem = name_problem(params.get("name"), "guest")
        if problem:
            raise PlanError(problem)
        state = params.get("state")
        if state not in STATES:
            raise PlanError("state must be one of %s, not %r" % (", ".join(STATES), state))
        timeout = params.get("shutdown_timeout")
        timeout = DEFAULT_SHUTDOWN_TIMEOUT if timeout is None else ascii_int(timeout, "shutdown_timeout", 1, MAX_SHUTDOWN_TIMEOUT)
        # Taken with every state (one task may set state from a variable); only a shutdown reads it.
        destroy = bool(params.get("destroy_on_timeout"))
        return cls(name=params["name"], state=state, uri=uri, shutdown_timeout=timeout, destroy_on_timeout=destroy)
