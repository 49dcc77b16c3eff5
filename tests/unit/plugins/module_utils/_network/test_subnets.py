"""Subnets a network shares with the host: overlap, who collides when, and the route tables."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._network.state import AddressUser
from ansible_collections.remotevirt.install.plugins.module_utils._network.subnets import (
    colliding,
    describe,
    ipv4_routes,
    ipv6_routes,
    overlaps,
)

ipv4_subnets = st.builds(
    lambda address, prefix: str(ipaddress.IPv4Network((address, prefix), strict=False)),
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
)
ipv6_subnets = st.builds(
    lambda address, prefix: str(ipaddress.IPv6Network((address, prefix), strict=False)),
    st.integers(0, 2**128 - 1),
    st.integers(0, 128),
)
subnets = st.one_of(ipv4_subnets, ipv6_subnets)


@given(subnets, subnets)
def test_overlap_iff_ipaddress_says_so(first, second):
    a, b = ipaddress.ip_network(first), ipaddress.ip_network(second)
    expected = a.version == b.version and (a.subnet_of(b) or b.subnet_of(a))  # type: ignore[arg-type]
    assert overlaps(first, second) == expected == overlaps(second, first)


@given(ipv4_subnets, st.integers(0, 32))
def test_a_subnet_overlaps_every_subnet_around_it(subnet, prefix):
    around = ipaddress.ip_network(subnet).supernet(new_prefix=min(prefix, ipaddress.ip_network(subnet).prefixlen))
    assert overlaps(subnet, str(around)) and overlaps(subnet, subnet)


@given(st.sampled_from(["a", "b"]), st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_who_collides_when(name, user_active, user_autostart, active, autostart):
    user = AddressUser("network", "a", "10.1.0.0/16", user_active, user_autostart)
    found = colliding(name, ["10.1.2.0/24"], [user], active, autostart)
    expected = name != "a" and ((active and user_active) or ((active or autostart) and user_autostart))
    assert bool(found) == expected


def test_a_host_interface_collides_whenever_the_network_runs():
    route = AddressUser("interface", "eth0", "192.0.2.0/24")
    assert colliding("lab", ["192.0.2.128/25"], [route], True, False) == [("192.0.2.128/25", route)]
    assert colliding("lab", ["192.0.2.128/25"], [route], False, True)
    assert not colliding("lab", ["192.0.2.128/25"], [route], False, False)
    assert not colliding("lab", ["198.51.100.0/24", "fd00::/64"], [route], True, True)


def test_description_names_the_other_and_when():
    assert describe(AddressUser("network", "pxe", "192.168.150.0/24"), False) == "192.168.150.0/24 of the active network pxe"
    at_boot = AddressUser("network", "pxe", "192.168.150.0/24", False, True)
    assert describe(at_boot, True).endswith("(inactive, started at boot: the two would collide at the next boot)")
    assert describe(at_boot, False).endswith("(inactive, started at boot: it could not start while this one runs)")
    assert describe(AddressUser("interface", "eth0", "192.0.2.0/24"), True).startswith("192.0.2.0/24 of the host interface eth0")


ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
veth1\t0001FE0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0\t0000000A\t010200C0\t0003\t0\t0\t0\t000000FF\t0\t0\t0
lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0
"""


def test_ipv4_routes_are_the_directly_connected_subnets():
    # A default route and a route through a gateway are no subnet of an interface.
    assert ipv4_routes(ROUTE, "little") == [("veth1", "10.254.1.0/24"), ("eth0", "192.0.2.0/24")]
    assert ipv4_routes("Iface\tDestination\nbroken line\n", "little") == []


ZERO = "0" * 32


def ipv6_line(destination, prefix, next_hop, flags, interface):
    """One line of /proc/net/ipv6_route: destination, prefix, source, its prefix, next hop, metric,
    reference count, use, flags, interface."""
    return " ".join([destination, prefix, ZERO, "00", next_hop, "00000100", "00000001", "00000000", flags, interface])


GATEWAY = "fd" + "0" * 29 + "1"
IPV6_ROUTE = "\n".join(
    [
        ipv6_line("fd" + "0" * 30, "40", ZERO, "00000001", "eth0"),
        ipv6_line("fe8" + "0" * 29, "40", ZERO, "00000001", "eth0"),
        ipv6_line(ZERO, "00", GATEWAY, "00000003", "eth0"),
        ipv6_line("0" * 31 + "1", "80", ZERO, "80200001", "lo"),
        ipv6_line("20010db80000000100000000" + "0" * 8, "30", GATEWAY, "00000003", "eth0"),
        ipv6_line("ff" + "0" * 30, "08", ZERO, "00000001", "eth0"),
    ]
)


def test_ipv6_routes_leave_out_link_local_multicast_gateways_and_loopback():
    assert ipv6_routes(IPV6_ROUTE) == [("eth0", "fd00::/64")]
