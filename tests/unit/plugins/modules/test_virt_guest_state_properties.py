"""Property: any virt_guest_state options, from any run state, end in a plan or a refusal with a
message, never another error; a plan's command lines hold no control character, each action has
its handler and payload, and the plan reaches the requested state."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import control_problem
from ansible_collections.remotevirt.install.plugins.module_utils._power.actions import VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._power.handlers import PowerHandlers
from ansible_collections.remotevirt.install.plugins.module_utils._power.plan import plan_power
from ansible_collections.remotevirt.install.plugins.module_utils._power.request import PowerRequest
from ansible_collections.remotevirt.install.plugins.module_utils._power.state import PowerState
from ansible_collections.remotevirt.install.plugins.modules import virt_guest_state
from strategies import examples, option, options, spec_checked

POWER_OPTIONS = options(
    required=dict(
        name=option(examples("web01", "db.example", "g")),
        state=option(st.sampled_from(["running", "shutdown", "stopped", "restarted", "paused"])),
    ),
    optional=dict(
        uri=option(examples("qemu:///system", "test:///default", "qemu+ssh://root@hv1/system")),
        shutdown_timeout=option(st.integers(min_value=-5, max_value=100000)),
        destroy_on_timeout=option(st.booleans()),
    ),
)
RUN_STATES = st.sampled_from(["running", "paused", "shut off", "absent", "pmsuspended", "crashed"])

# The run state each verb leaves the guest in (a fallback destroy leaves it shut off either way).
AFTER = {"start": None, "shutdown": "shut off", "destroy": "shut off", "suspend": "paused", "resume": "running"}


@given(POWER_OPTIONS, RUN_STATES, st.booleans())
def test_any_options_give_a_plan_or_a_refusal(params, run_state, persistent):
    validated = spec_checked(virt_guest_state.argument_spec(), params)
    if validated is None:
        return  # AnsibleModule fails the task with its message
    try:
        request = PowerRequest.from_params(validated)
        plan = plan_power(request, PowerState(run_state=run_state, persistent=persistent))
    except RemotevirtError as error:
        assert str(error)
        return
    for command in plan.commands():
        assert control_problem(command, "command") == ""
    handled = PowerHandlers(None, None).as_mapping()  # type: ignore[arg-type]
    reached = run_state
    for action in plan.actions:
        assert action.verb in handled and isinstance(action.payload, VERBS[action.verb].payload)
        reached = AFTER[action.verb] or ("paused" if action.payload.paused else "running")
    wanted = {"running": "running", "restarted": "running", "paused": "paused"}.get(request.state, "shut off")
    assert reached == wanted
    assert plan.changed or request.state != "restarted"
