"""virt_guest_install's result: the guest's state a run predicts when it ends."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Plan
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import (
    DEFINE,
    INSTALL,
    START,
    WAIT,
    GuestTarget,
    Reachable,
    WaitPayload,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.result import _predicted_state
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
from runner_params import guest

INSTALL_WAIT = WaitPayload(guest="web01", timeout=600)
REACHABLE_WAIT = WaitPayload(guest="web01", timeout=600, reachable=Reachable(ip=False, marker="login:"))


def step(verb, payload=None):
    return Action(verb, "guest", "web01", "virsh %s web01" % verb, payload or GuestTarget(guest="web01"))


@pytest.mark.parametrize(
    "steps, predicted",
    [
        ([step(DEFINE), step(INSTALL)], "running"),  # the installer runs on after the task
        ([step(DEFINE), step(INSTALL), step(WAIT, INSTALL_WAIT)], "shut off"),  # its definition ended with it
        ([step(DEFINE), step(INSTALL), step(WAIT, REACHABLE_WAIT)], "running"),  # waited for its marker: it runs on
        ([step(DEFINE), step(INSTALL), step(WAIT, INSTALL_WAIT), step(START), step(WAIT, REACHABLE_WAIT)], "running"),
    ],
)
def test_the_state_a_plan_leaves_the_guest_in(steps, predicted):
    plan = Plan(actions=steps)
    assert _predicted_state(GuestRequest.from_params(guest("web01")), plan, GuestState()) == predicted
