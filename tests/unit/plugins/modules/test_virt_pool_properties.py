"""Property: any virt_pool options end in a plan or a refusal with a message, never another error,
and a plan's command lines hold no control character."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import control_problem
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import PoolDefinition
from ansible_collections.remotevirt.install.plugins.module_utils._pool.actions import VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._pool.handlers import PoolHandlers
from ansible_collections.remotevirt.install.plugins.module_utils._pool.plan import plan_pool
from ansible_collections.remotevirt.install.plugins.module_utils._pool.request import PoolRequest
from ansible_collections.remotevirt.install.plugins.module_utils._pool.state import PoolState
from ansible_collections.remotevirt.install.plugins.modules import virt_pool
from strategies import examples, option, options, spec_checked

EXCLUSIVE = ("type", "target_path", "source_host", "source_path", "source_devices", "source_name", "source_format", "initiator")
RULES = dict(mutually_exclusive=[("xml", key) for key in EXCLUSIVE])

POOL_OPTIONS = options(
    required=dict(name=option(examples("images", "vg_guests", "p"))),
    optional=dict(
        uri=option(examples("qemu:///system", "test:///default", "qemu+ssh://root@hv1/system")),
        state=option(st.sampled_from(["present", "active", "inactive", "absent"])),
        type=option(st.sampled_from(["dir", "fs", "netfs", "logical", "iscsi"])),
        target_path=option(examples("/srv/images", "/srv/images/", "/dev/vg")),
        source_host=option(examples("nas.example.com", "10.0.0.5", "fe80::1")),
        source_path=option(examples("/export/isos", "iqn.2004-04.com.example:lun1")),
        source_devices=option(st.lists(examples("/dev/sdb", "/dev/vdb1"), max_size=3)),
        source_name=option(examples("vg_guests", "vg0")),
        source_format=option(examples("auto", "nfs", "ext4", "lvm2")),
        initiator=option(examples("iqn.2024-01.com.example:hv1")),
        xml=option(
            examples(
                "<pool type='dir'><name>images</name><target><path>/srv/images</path></target></pool>",
                "<pool type='netfs'><source><host name='nas'/><dir path='/e'/></source><target><path>/m</path></target></pool>",
            )
        ),
        autostart=option(st.booleans()),
        build=option(st.booleans()),
        recreate=option(st.booleans()),
        delete_volumes=option(st.booleans()),
    ),
)


@given(POOL_OPTIONS, st.sampled_from([None, "dir", "fs"]), st.booleans(), st.booleans())
def test_any_options_give_a_plan_or_a_refusal(params, existing_type, active, used):
    validated = spec_checked(virt_pool.argument_spec(), params, **RULES)
    if validated is None:
        return  # AnsibleModule fails the task with its message
    try:
        request = PoolRequest.from_params(validated)
        existing = None
        if existing_type is not None:
            existing = PoolDefinition(name=request.name, type=existing_type, target_path="/srv/old", uuid="u")
        state = PoolState(
            uri="qemu:///system", existing=existing, active=active, volumes=("a.qcow2",), users=(("web01", True),) if used else ()
        )
        plan = plan_pool(request, state)
    except RemotevirtError as error:
        assert str(error)
        return
    for command in plan.commands():
        assert control_problem(command, "command") == ""
    handled = PoolHandlers(None).as_mapping()  # type: ignore[arg-type]
    for action in plan.actions:
        assert action.verb in handled and isinstance(action.payload, VERBS[action.verb].payload)
