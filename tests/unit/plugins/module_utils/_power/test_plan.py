"""The power planner: every requested state from every run state, its command lines, and its refusals."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._power.plan import plan_power
from ansible_collections.remotevirt.install.plugins.module_utils._power.request import PowerRequest
from ansible_collections.remotevirt.install.plugins.module_utils._power.state import ABSENT, PAUSED, RUNNING, SHUT_OFF, PowerState

WAIT = "timeout 120 sh -c 'until virsh domstate g | grep -q \"shut off\"; do sleep 2; done'"


def verbs(state, run_state, persistent=True, **options):
    plan = plan_power(PowerRequest(name="g", state=state, **options), PowerState(run_state=run_state, persistent=persistent))
    return [action.verb for action in plan.actions]


@pytest.mark.parametrize(
    "state, run_state, expected",
    [
        ("running", RUNNING, []),
        ("running", SHUT_OFF, ["start"]),
        ("running", PAUSED, ["resume"]),
        ("shutdown", SHUT_OFF, []),
        ("shutdown", RUNNING, ["shutdown"]),
        ("shutdown", PAUSED, ["resume", "shutdown"]),
        ("stopped", SHUT_OFF, []),
        ("stopped", RUNNING, ["destroy"]),
        ("stopped", PAUSED, ["destroy"]),
        ("stopped", "pmsuspended", ["destroy"]),
        ("restarted", SHUT_OFF, ["start"]),
        ("restarted", RUNNING, ["shutdown", "start"]),
        ("restarted", PAUSED, ["resume", "shutdown", "start"]),
        ("paused", PAUSED, []),
        ("paused", RUNNING, ["suspend"]),
        ("paused", SHUT_OFF, ["start"]),
    ],
)
def test_each_state_from_each_run_state(state, run_state, expected):
    assert verbs(state, run_state) == expected


def test_shutdown_shows_its_wait_and_no_destroy_unless_allowed():
    plan = plan_power(PowerRequest(name="g", state="shutdown"), PowerState(run_state=RUNNING))
    assert plan.commands() == ["virsh shutdown g && " + WAIT]
    assert not plan.destructive


def test_the_fallback_destroy_is_a_planned_conditional_step():
    request = PowerRequest(name="g", state="restarted", destroy_on_timeout=True, shutdown_timeout=30)
    plan = plan_power(request, PowerState(run_state=RUNNING))
    assert plan.commands() == [
        "virsh shutdown g && " + WAIT.replace("120", "30"),
        'virsh domstate g | grep -q "shut off" || virsh destroy g',
        "virsh start g",
    ]
    assert [action.destructive for action in plan.actions] == [False, True, False]
    assert plan.actions[1].payload.fallback and plan.actions[0].payload.fallback


def test_destroy_on_timeout_is_not_read_by_an_idle_state():
    assert verbs("shutdown", SHUT_OFF, destroy_on_timeout=True) == []
    assert verbs("stopped", RUNNING, destroy_on_timeout=True) == ["destroy"]


def test_paused_start_and_remote_uri_commands():
    plan = plan_power(PowerRequest(name="g", state="paused", uri="qemu+ssh://root@hv1/system"), PowerState(run_state=SHUT_OFF))
    assert plan.commands() == ["virsh -c qemu+ssh://root@hv1/system start --paused g"]


def test_diff_shows_the_run_state_before_and_after():
    plan = plan_power(PowerRequest(name="g", state="stopped"), PowerState(run_state=RUNNING))
    assert (plan.before, plan.after) == ("state: running\n", "state: shut off\n")
    restarted = plan_power(PowerRequest(name="g", state="restarted"), PowerState(run_state=RUNNING))
    assert restarted.before != restarted.after and restarted.changed


@pytest.mark.parametrize("state", ["running", "shutdown", "stopped", "restarted", "paused"])
def test_a_guest_that_does_not_exist_is_refused(state):
    # stopped and shutdown say too that a guest without a stored definition is gone once stopped.
    gone = (
        r" \(a guest without a stored definition is gone once stopped or shut down\)" if state in ("stopped", "shutdown") else ""
    )
    with pytest.raises(PlanError, match="guest g does not exist on qemu:///system%s; virt_guest_install defines" % gone):
        verbs(state, ABSENT)


def test_restarting_a_transient_guest_is_refused():
    with pytest.raises(PlanError, match="once shut down it is gone"):
        verbs("restarted", RUNNING, persistent=False)
    assert verbs("shutdown", RUNNING, persistent=False) == ["shutdown"]


@pytest.mark.parametrize("state", ["stopped", "shutdown"])
def test_a_transient_guest_that_stops_is_shown_gone(state):
    plan = plan_power(PowerRequest(name="g", state=state), PowerState(run_state=RUNNING, persistent=False))
    assert (plan.before, plan.after) == ("state: running\n", "state: absent\n")


@pytest.mark.parametrize("state", ["running", "shutdown", "restarted", "paused"])
def test_other_libvirt_states_are_changed_only_by_stopped(state):
    with pytest.raises(PlanError, match=r"guest g is pmsuspended \(no reason given\); only state: stopped"):
        verbs(state, "pmsuspended")
