# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the host has for a power request, as the runner reads it."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record

RUNNING = "running"
PAUSED = "paused"
SHUT_OFF = "shut off"
ABSENT = "absent"


class PowerState(Record):
    """The guest's run state: ``running``, ``paused``, ``shut off`` or ``absent`` (no such guest),
    or another state of libvirt's (``pmsuspended``, ``crashed``) that the planner refuses to touch
    except by destroying. ``persistent``: it has a stored definition (a transient guest that
    shuts down is gone)."""

    run_state: str = ABSENT
    persistent: bool = True
    # libvirt's reason for the state ("user", "booted", "crashed"...), for messages.
    reason: str = ""

    @property
    def active(self) -> bool:
        return self.run_state not in (SHUT_OFF, ABSENT)


def run_state_of(active: bool, state_name: str) -> str:
    """One of the states the planner knows from libvirt's ``isActive`` and state name.

    A guest that is shutting down already ("shutdown") or whose virtual CPUs wait ("blocked", "no
    state") runs as far as power is concerned.
    """
    if not active:
        return SHUT_OFF
    if state_name in ("running", "blocked", "shutdown", "no state"):
        return RUNNING
    return state_name
