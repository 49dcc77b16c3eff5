# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning of a guest's power state: (request, actual state) -> Plan. No I/O here.

Each action's command line is what an admin would run with virsh; a graceful shutdown shows its
wait, and the destroy that may follow it shows the condition it runs under.
"""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Plan, PlanError, shell, virsh
from ansible_collections.remotevirt.install.plugins.module_utils._power.actions import (
    DESTROY,
    RESUME,
    SHUTDOWN,
    START,
    SUSPEND,
    DestroyPayload,
    GuestTarget,
    ShutdownPayload,
    StartPayload,
)
from ansible_collections.remotevirt.install.plugins.module_utils._power.request import PowerRequest
from ansible_collections.remotevirt.install.plugins.module_utils._power.state import ABSENT, PAUSED, RUNNING, SHUT_OFF, PowerState

# The run state each requested state leaves the guest in.
OUTCOMES = {"running": RUNNING, "shutdown": SHUT_OFF, "stopped": SHUT_OFF, "restarted": RUNNING, "paused": PAUSED}


def plan_power(request: PowerRequest, state: PowerState) -> Plan:
    """The actions that take the guest from ``state`` to ``request.state``; raises PlanError when refused."""
    _refuse_unmanaged(request, state)
    after = shown(outcome(request, state)) + ("restarted: true\n" if request.state == "restarted" else "")
    plan = Plan(before=shown(state.run_state), after=after)
    current = state.run_state
    if request.state == "stopped":
        if state.active:
            plan.add(_destroy_action(request, fallback=False))
    elif request.state == "running":
        if current == SHUT_OFF:
            plan.add(_start_action(request, paused=False))
        elif current == PAUSED:
            plan.add(_resume_action(request))
    elif request.state == "paused":
        if current == SHUT_OFF:
            plan.add(_start_action(request, paused=True))
        elif current == RUNNING:
            plan.add(Action(SUSPEND, "guest", request.name, _virsh(request, "suspend", request.name), GuestTarget(request.name)))
    elif request.state == "shutdown":
        if state.active:
            _plan_shutdown(request, state, plan)
    else:  # restarted: always changed, a shut off guest is started
        if state.active:
            _plan_shutdown(request, state, plan)
        plan.add(_start_action(request, paused=False))
    return plan


def outcome(request: PowerRequest, state: PowerState) -> str:
    """The run state the run leaves the guest in: a guest without a stored definition is gone once
    it stops."""
    if request.state in ("stopped", "shutdown") and not state.persistent and state.active:
        return ABSENT
    return OUTCOMES[request.state]


def shown(run_state: str) -> str:
    """The diff's text of a run state."""
    return "state: %s\n" % run_state


def _refuse_unmanaged(request: PowerRequest, state: PowerState) -> None:
    name = request.name
    if state.run_state == ABSENT:
        gone = ""
        if request.state in ("stopped", "shutdown"):
            # A guest without a stored definition ends when it stops: a re-run meets no guest at all,
            # and a misspelt name must not pass for it.
            gone = " (a guest without a stored definition is gone once stopped or shut down)"
        raise PlanError(
            "guest %s does not exist on %s%s; virt_guest_install defines and installs guests, this module only "
            "changes the power state of existing ones" % (name, request.uri, gone)
        )
    if request.state == "restarted" and not state.persistent:
        raise PlanError(
            "guest %s runs without a stored definition (started by hand, or an install whose definition is "
            "gone): once shut down it is gone and cannot be started again; use state: shutdown or stopped" % name
        )
    if state.run_state not in (RUNNING, PAUSED, SHUT_OFF) and request.state != "stopped":
        raise PlanError(
            "guest %s is %s (%s); only state: stopped (virsh destroy) changes a guest in that state"
            % (name, state.run_state, state.reason or "no reason given")
        )


def _plan_shutdown(request: PowerRequest, state: PowerState, plan: Plan) -> None:
    """A graceful shutdown and its wait, then (if allowed) a destroy of a guest still running.

    A paused guest is resumed first: its OS cannot see the ACPI power button while its CPUs stop.
    """
    if state.run_state == PAUSED:
        plan.add(_resume_action(request))
    name = request.name
    wait = 'until %s | grep -q "shut off"; do sleep 2; done' % _virsh(request, "domstate", name)
    command = "%s && timeout %d sh -c %s" % (_virsh(request, "shutdown", name), request.shutdown_timeout, shell(wait))
    payload = ShutdownPayload(guest=name, timeout=request.shutdown_timeout, fallback=request.destroy_on_timeout)
    plan.add(Action(SHUTDOWN, "guest", name, command, payload))
    if request.destroy_on_timeout:
        plan.add(_destroy_action(request, fallback=True))


def _virsh(request: PowerRequest, *argv: object) -> str:
    return virsh(request.uri, *argv)


def _start_action(request: PowerRequest, paused: bool) -> Action:
    name = request.name
    argv = ("start", "--paused", name) if paused else ("start", name)
    return Action(START, "guest", name, _virsh(request, *argv), StartPayload(guest=name, paused=paused))


def _resume_action(request: PowerRequest) -> Action:
    name = request.name
    return Action(RESUME, "guest", name, _virsh(request, "resume", name), GuestTarget(name))


def _destroy_action(request: PowerRequest, fallback: bool) -> Action:
    """``virsh destroy``; the fallback after a shutdown runs only if the guest is still running, as its
    command line says (check mode cannot know whether the guest will shut down in time)."""
    name = request.name
    command = _virsh(request, "destroy", name)
    if fallback:
        command = '%s | grep -q "shut off" || %s' % (_virsh(request, "domstate", name), command)
    return Action(DESTROY, "guest", name, command, DestroyPayload(guest=name, fallback=fallback), destructive=True)
