"""What the browse makes of what zeroconf heard: names it cannot resolve, and the zones of
link-local addresses. The browse itself runs against real responders in the discovery targets."""

from __future__ import annotations

import socket

import pytest

from ansible_collections.remotevirt.install.plugins.plugin_utils._mdns.browse import _resolvable, link_zone, with_zone

TYPE = "_libvirt._tcp.local."
LOOPBACK = socket.if_indextoname(1)


@pytest.mark.parametrize(
    "address, zone, expected",
    [
        ("fe80::1", "lan0", "fe80::1%lan0"),  # heard on the browse's one interface
        ("fe80::1%1", "lan0", "fe80::1%" + LOOPBACK),  # zeroconf's interface index wins
        ("fe80::1%1", None, "fe80::1%" + LOOPBACK),
        ("fe80::1", None, "fe80::1"),  # could be on any link: left without, and unused
        ("fe80::1%4294967295", None, "fe80::1"),  # an interface gone meanwhile
        ("fe80::1%99999999999999999999", None, "fe80::1"),
        ("fd00::1", "lan0", "fd00::1"),
        ("10.0.0.5", "lan0", "10.0.0.5"),
        ("169.254.1.1", "lan0", "169.254.1.1"),
    ],
)
def test_link_local_addresses_get_the_interface_they_were_heard_on(address, zone, expected):
    assert with_zone(address, zone) == expected


def test_the_zone_is_the_one_interface_named():
    assert link_zone([LOOPBACK]) == LOOPBACK
    assert link_zone([]) is None
    assert link_zone([LOOPBACK, LOOPBACK]) is None
    assert link_zone(["127.0.0.1"]) is None  # an address: which interface is not said


def test_a_name_zeroconf_cannot_resolve_is_skipped_with_a_warning():
    warnings: list[str] = []
    infos = _resolvable(["hv1." + TYPE, "rvhost1.", "x\x1b[2J"], TYPE, warnings)
    assert [info.name for info in infos] == ["hv1." + TYPE]
    assert warnings[0] == "rvhost1 cannot be resolved (Type 'rvhost1.' must end with '.local.'): skipped"
    assert warnings[1].startswith("'x\\x1b[2J' cannot be resolved (")
    assert "\x1b" not in "".join(warnings)
