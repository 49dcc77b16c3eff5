"""Golden plans of the network planner: for each kind of request, the exact actions (verb, kind,
name, command line, destructive) in golden/plan-<case>.json.

REMOTEVIRT_UPDATE_GOLDEN=1 rewrites the files from the code; review the diff before committing it.
"""

from __future__ import annotations

import os

import pytest

import golden
from ansible_collections.remotevirt.install.plugins.module_utils._network.plan import plan_network, wanted_network
from ansible_collections.remotevirt.install.plugins.module_utils._network.request import NetworkRequest
from ansible_collections.remotevirt.install.plugins.module_utils._network.state import GuestOnNetwork, NetworkState

IPV4 = dict(
    address="10.213.1.1/24",
    dhcp_ranges=[dict(start="10.213.1.100", end="10.213.1.199")],
    dhcp_hosts=[dict(mac="52:54:00:aa:00:10", ip="10.213.1.10", name="web01")],
)
PXE = dict(
    address="10.213.2.1/24",
    dhcp_ranges=[dict(start="10.213.2.50", end="10.213.2.99")],
    tftp_root="/var/lib/tftpboot",
    bootp_file="pxelinux.0",
)
GUESTS = (GuestOnNetwork("db01", False), GuestOnNetwork("web01", True))


def on_host(active=True, autostart=False, guests=None, **params):
    network = wanted_network(NetworkRequest.from_params(dict(name="lab", bridge="virbr-lab", **params)), None)
    return NetworkState(existing=network, definition=network.to_xml(), active=active, autostart=autostart, guests=guests)


# case: (module parameters, what the host has)
CASES = {
    "new_nat": (dict(ipv4=IPV4, domain="lab.example", autostart=True), NetworkState()),
    "new_isolated_pxe": (dict(forward="isolated", ipv4=PXE, state="present"), NetworkState()),
    "new_bridge": (dict(forward="bridge", bridge="br0"), NetworkState(bridge_exists=True)),
    "dhcp_host_added": (
        dict(ipv4=dict(IPV4, dhcp_hosts=IPV4["dhcp_hosts"] + [dict(mac="52:54:00:aa:00:11", ip="10.213.1.11")])),
        on_host(ipv4=IPV4),
    ),
    "dhcp_range_moved": (dict(ipv4=dict(IPV4, dhcp_ranges=[dict(start="10.213.1.150", end="10.213.1.249")])), on_host(ipv4=IPV4)),
    "recreate": (dict(forward="route", recreate=True), on_host(ipv4=IPV4, guests=GUESTS)),
    "stop": (dict(state="inactive"), on_host(ipv4=IPV4, guests=GUESTS)),
    "absent": (dict(state="absent", delete_in_use=True), on_host(ipv4=IPV4, autostart=True, guests=GUESTS)),
}


def golden_path(case):
    return os.path.join(golden.folder(__file__), "plan-%s.json" % case)


def planned(case):
    params, state = CASES[case]
    params = dict(dict(name="lab", bridge="virbr-lab"), **params)
    return plan_network(NetworkRequest.from_params(params), state)


@pytest.mark.parametrize("case", list(CASES))
def test_plan_matches_golden_file(case):
    """The planner's actions are exactly the reviewed golden file."""
    golden.compare(golden_path(case), golden.plan_text(planned(case)))


def test_golden_plans_are_all_known():
    """No stale golden plan lingers for a case that is gone."""
    assert golden.stale(golden.folder(__file__), ".json", ("plan-%s.json" % case for case in CASES)) == []
