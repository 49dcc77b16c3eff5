"""Property: any virt_network options end in a plan or a refusal with a message, never another
error, and a plan's command lines hold no control character."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import control_problem
from ansible_collections.remotevirt.install.plugins.module_utils._network.actions import VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._network.handlers import NetworkHandlers
from ansible_collections.remotevirt.install.plugins.module_utils._network.plan import plan_network, wanted_network
from ansible_collections.remotevirt.install.plugins.module_utils._network.request import NetworkRequest
from ansible_collections.remotevirt.install.plugins.module_utils._network.state import GuestOnNetwork, NetworkState
from ansible_collections.remotevirt.install.plugins.modules import virt_network
from strategies import examples, option, options, spec_checked

ADDRESS = examples("10.213.1.1/24", "10.213.1.0/24", "10.213.1.1/31", "192.168.1.1/16", "10.213.1.1", "fd00::1/64")
IP = examples("10.213.1.10", "10.213.1.100", "10.213.1.199", "10.213.2.5", "10.213.1.255", "10.213.1.1", "fd00::5")
RANGES = st.lists(st.fixed_dictionaries(dict(start=option(IP), end=option(IP))), max_size=3)
HOSTS = st.lists(
    st.fixed_dictionaries(
        dict(
            mac=option(examples("52:54:00:aa:00:10", "52:54:00:AA:00:11", "01:00:5e:00:00:01", "52:54:00:aa:00")), ip=option(IP)
        ),
        optional=dict(name=option(examples("web01", "a-b", "-x", "a.b"))),
    ),
    max_size=3,
)
IPV4 = st.fixed_dictionaries(
    dict(address=option(ADDRESS)),
    optional=dict(
        dhcp_ranges=option(RANGES),
        dhcp_hosts=option(HOSTS),
        tftp_root=option(examples("/srv/tftp", "srv", "/a/../b")),
        bootp_file=option(examples("pxelinux.0", "efi/grubx64.efi", "a b")),
        bootp_server=option(examples("10.213.1.2", "tftp.example")),
    ),
)
IPV6 = st.fixed_dictionaries(
    dict(address=option(examples("fd00:213::1/64", "fd00::/64", "10.0.0.1/24"))), optional=dict(dhcp_ranges=option(RANGES))
)
NETWORK_OPTIONS = options(
    required=dict(name=option(examples("rvn-lab", "lab", "a..b"))),
    optional=dict(
        uri=option(examples("qemu:///system", "test:///default", "qemu+tcp://h/system")),
        state=option(st.sampled_from(["present", "active", "inactive", "absent"])),
        forward=option(st.sampled_from(["nat", "route", "isolated", "bridge"])),
        bridge=option(examples("rvn-lab0", "br0", "virbr-far-too-long-name", "br:0")),
        domain=option(examples("lab.example", "lab..example", "x")),
        ipv4=option(IPV4),
        ipv6=option(IPV6),
        autostart=option(st.booleans()),
        recreate=option(st.booleans()),
        delete_in_use=option(st.booleans()),
    ),
)
EXISTING = NetworkRequest.from_params(
    dict(
        name="rvn-lab",
        bridge="rvn-lab0",
        ipv4=dict(
            address="10.213.1.1/24",
            dhcp_ranges=[dict(start="10.213.1.100", end="10.213.1.199")],
            dhcp_hosts=[dict(mac="52:54:00:aa:00:10", ip="10.213.1.10")],
        ),
    )
)


@given(NETWORK_OPTIONS, st.booleans(), st.booleans(), st.booleans())
def test_any_options_give_a_plan_or_a_refusal(params, exists, active, guests):
    validated = spec_checked(virt_network.argument_spec(), params)
    if validated is None:
        return  # AnsibleModule fails the task with its message
    state = NetworkState()
    name = str(validated.get("name"))
    # A host never has a network whose name holds a control character: libvirt finds none by it.
    if exists and not control_problem(name, "name"):
        network = wanted_network(EXISTING, None).with_changes(name=name)
        state = NetworkState(
            existing=network,
            definition=network.to_xml(),
            active=active,
            guests=(GuestOnNetwork("web01", True),) if guests else (),
        )
    try:
        plan = plan_network(NetworkRequest.from_params(validated), state)
    except RemotevirtError:
        return  # a refusal with its message
    for action in plan.actions:
        assert not control_problem(action.command_line, "command")
        assert action.verb in VERBS and isinstance(action.payload, VERBS[action.verb].payload)
    assert set(NetworkHandlers(None).as_mapping()) == set(VERBS)
