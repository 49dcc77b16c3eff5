"""Property: any virt_pool_volume options end in a plan or a refusal with a message, never another
error, and a plan's command lines hold no control character and no URL credential."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import control_problem
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._volume.handlers import VolumeHandlers
from ansible_collections.remotevirt.install.plugins.module_utils._volume.plan import plan_volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.request import VolumeRequest
from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import resolve_permissions
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import VolumeState
from ansible_collections.remotevirt.install.plugins.modules import virt_pool_volume
from strategies import examples, option, options, spec_checked

GiB = 1 << 30
POOL = Pool(name="p", type="dir", target_path="/srv/p", capacity=100 * GiB, allocation=0, available=50 * GiB)
SECRET = "Url-Pw-1"
RULES = dict(
    mutually_exclusive=[("clone_from", "backing_volume", "source_url"), ("preallocation", "allocation")],
    required_by={"checksum": "source_url"},
)

VOLUME_OPTIONS = options(
    required=dict(pool=option(examples("p", "default-pool")), name=option(examples("v.qcow2", "d.iso", "x"))),
    optional=dict(
        uri=option(examples("qemu:///system", "test:///default", "qemu+tls://hv1:16514/system", "qemu+tcp://h/system")),
        log_facility=option(st.sampled_from(["user", "local0"])),
        state=option(st.sampled_from(["present", "absent"])),
        capacity=option(examples("1G", "20GiB", "500MB", "1048576", "0", "1.5G")),
        format=option(st.sampled_from(["raw", "qcow2", "iso"])),
        preallocation=option(st.sampled_from(["sparse", "metadata", "full"])),
        allocation=option(examples("0", "1M")),
        overcommit=option(st.booleans()),
        clone_from=option(examples("base.qcow2", "tpl/base.qcow2")),
        backing_volume=option(examples("base.qcow2", "golden/base.qcow2")),
        source_url=option(examples("http://h/d.iso", "https://u:%s@h/d.iso" % SECRET, "ftp://h/d", "file:///srv/d.iso")),
        checksum=option(examples("sha256:" + "ab" * 32, "md5:" + "0" * 32)),
        validate_certs=option(st.booleans()),
        allow_shrink=option(st.booleans()),
        delete_in_use=option(st.booleans()),
        replace_content=option(st.booleans()),
        mode=option(st.one_of(examples("0640", "0600", "7777"), st.integers(0, 0o10000))),
        owner=option(examples("root", "0", "64055")),
        group=option(examples("root", "0")),
    ),
)


@given(VOLUME_OPTIONS, st.booleans(), st.sampled_from([None, 1 << 20, 2 * GiB]))
def test_any_options_give_a_plan_or_a_refusal(params, exists, download_size):
    validated = spec_checked(virt_pool_volume.argument_spec(), params, **RULES)
    if validated is None:
        return  # AnsibleModule fails the task with its message
    try:
        request = VolumeRequest.from_params(validated, resolve_permissions(validated))
        origin = Volume(name="base.qcow2", capacity=GiB, format="qcow2", path="/srv/p/base.qcow2")
        existing = Volume(name=request.name, capacity=GiB, format="qcow2", path="/srv/p/" + request.name)
        state = VolumeState(POOL, existing=existing if exists else None, origin=origin, download_size=download_size)
        plan = plan_volume(request, state)
    except RemotevirtError as error:
        assert str(error) and SECRET not in str(error)
        return
    for command in plan.commands():
        assert control_problem(command, "command") == "" and SECRET not in command
    # Every verb the planner emits has a handler and an undo policy, and carries its verb's payload:
    # the executor never meets an action it cannot apply or roll back.
    handled = VolumeHandlers(None, True).as_mapping()
    for action in plan.actions:
        assert action.verb in handled and isinstance(action.payload, VERBS[action.verb].payload)
