# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virt_guest_state's flow: read the guest's run state, plan, apply, report."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import REPORTED_ERRORS, RunError
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import apply_plan, changing, connected
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._power.actions import START, VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._power.plan import outcome, plan_power
from ansible_collections.remotevirt.install.plugins.module_utils._power.request import PowerRequest
from ansible_collections.remotevirt.install.plugins.module_utils._power.state import ABSENT, SHUT_OFF, PowerState, run_state_of

# How long a run waits for another run that changes the same guest (virt_guest_install takes the
# same lock, and its install may wait long), beyond its own shutdown wait.
GUEST_LOCK_SECONDS = 600


def guest_key(name: str) -> str:
    """The lock key virt_guest_install also takes for the guest: the two modules take turns."""
    return "guest %s" % name


def read_state(client: Client, name: str) -> PowerState:
    domain = client.find_domain(name)
    power = client.domain_power_if_present(domain) if domain is not None else None
    if power is None:
        return PowerState(run_state=ABSENT)
    state_name, reason, active, persistent = power
    return PowerState(run_state=run_state_of(active, state_name), persistent=persistent, reason=reason)


def run(params: Mapping[str, Any], check_mode: bool, diff: bool) -> Dict[str, Any]:
    """Everything virt_guest_state does after argument parsing; raises RunError to fail."""
    try:
        request = PowerRequest.from_params(params)
    except PlanError as error:
        raise RunError(str(error))
    plan = None
    applied = False
    made: List[Any] = []  # the handlers, once a real run makes them
    seconds = GUEST_LOCK_SECONDS + request.shutdown_timeout
    try:
        with connected(request.uri) as client, changing(client.uri, [guest_key(request.name)], seconds, check_mode):
            state = read_state(client, request.name)
            plan = plan_power(request, state)
            if plan.changed and state.run_state == SHUT_OFF and state.persistent:
                _refuse_never_installed(client, request.name)
            if plan.changed and request.state in ("shutdown", "restarted") and state.active and state.persistent:
                _refuse_stopping_an_installer(client, request)
            if any(action.verb == START for action in plan.actions):
                _refuse_unstartable(client, request.name)
            if plan.changed and not check_mode:
                apply_plan(client, plan, params, VERBS, lambda audit: _handlers(client, audit, made))
                applied = True
            after = outcome(request, state) if check_mode else read_state(client, request.name).run_state
    except REPORTED_ERRORS as error:
        raise RunError(str(error), plan, changed=applied)
    result: Dict[str, Any] = {
        "changed": plan.changed,
        "plan": plan.summaries(),
        "state": after,
        "previous_state": state.run_state,
        "forced": any(handlers.forced for handlers in made),
    }
    if diff:
        result["diff"] = plan.diff("guest %s" % request.name)
    return result


def _refuse_never_installed(client: Client, name: str) -> None:
    """A guest whose install never started, or was stopped, is not started from its disk (see install_mark)."""
    # Imported here: only starts of a shut off guest ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import is_local_uri
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.install_mark import (
        never_installed_problem,
        qemu_log_directory,
    )

    domain = client.find_domain(name)
    xml = client.domain_definition(domain) if domain else None
    problem = never_installed_problem(name, xml, is_local_uri(client.uri), qemu_log_directory(client.uri)) if xml else ""
    if problem:
        raise PlanError(problem)


def _refuse_stopping_an_installer(client: Client, request: PowerRequest) -> None:
    """A guest still running its installer is neither shut down (its power-off would read as the
    installer's own end, its unfinished disk as installed) nor restarted (from that disk)."""
    # Imported here: only shutdowns and restarts of a running guest ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.install_mark import runs_installer

    domain = client.find_domain(request.name)
    live = client.domain_live_definition_if_present(domain) if domain is not None else None
    if live is not None and runs_installer(live, client.domain_definition(domain)):
        raise PlanError(
            "guest %s is still running its installer: a shutdown would be taken for the installer's own end and "
            "a restart would boot its unfinished disk; let the install finish (virt_guest_install with wait: true "
            "waits for it), or end it with state: stopped and install it again with reinstall: true" % request.name
        )


def _refuse_unstartable(client: Client, name: str) -> None:
    """A start (a restart's too, before its shutdown) that libvirt would refuse for what the guest's
    stored definition names: a restart must not take down a guest that cannot come back."""
    # Imported here: only runs that start a guest ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._power.startable import start_problems

    domain = client.find_domain(name)
    problems = start_problems(client, client.domain_definition(domain)) if domain is not None else []
    if problems:
        raise PlanError("guest %s cannot start: %s" % (name, "; ".join(problems)))


def _handlers(client: Client, audit: Any, made: List[Any]) -> Mapping[str, Any]:
    """The handlers of a real run; ``made`` keeps them, so the run can tell whether a fallback destroy was needed."""
    # Imported here: only runs that change something use them (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._power.handlers import PowerHandlers

    handlers = PowerHandlers(client, audit)
    made.append(handlers)
    return handlers.as_mapping()
