# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Subnets a network shares with the rest of the host. No I/O here: the runner reads the other
networks and the route tables, these functions compare and parse.

libvirt refuses to start a network whose subnet another active network or a host interface
already routes ("Network is already in use by interface ..."): only when it starts, after the
definition and whatever a play changed before. The planner compares first, so check mode
predicts the refusal.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Iterable, List, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._network.state import AddressUser

# Route flags (linux/route.h, linux/ipv6_route.h): via a gateway, or a reject route; neither is
# a subnet of a host interface.
RTF_GATEWAY = 0x0002
RTF_REJECT = 0x0200
# Interfaces whose routes are not subnets a network could take.
_LOOPBACK = "lo"
_NOT_ON_A_LINK = (ipaddress.IPv6Network("fe80::/10"), ipaddress.IPv6Network("ff00::/8"))


def overlaps(subnet: str, other: str) -> bool:
    """Whether two subnets share an address (never across IPv4 and IPv6)."""
    first, second = ipaddress.ip_network(subnet), ipaddress.ip_network(other)
    return first.version == second.version and first.overlaps(second)


def colliding(
    name: str, subnets: Iterable[str], users: Iterable[AddressUser], active: bool, autostart: bool
) -> List[Tuple[str, AddressUser]]:
    """``(subnet, user)`` for every subnet of network ``name`` that another user of the host has:
    active networks and host interfaces when it runs now, networks started at boot when it runs
    or starts at boot. A network never collides with itself."""
    found = []
    for subnet in subnets:
        for user in users:
            if user.kind == "network" and user.name == name:
                continue
            if not _meets(user, active, autostart):
                continue
            if overlaps(subnet, user.subnet):
                found.append((subnet, user))
    return found


def _meets(user: AddressUser, active: bool, autostart: bool) -> bool:
    if user.kind != "network":
        return active or autostart  # a host interface is there now and, as a rule, after a boot
    return (active and user.active) or ((active or autostart) and user.autostart)


def describe(user: AddressUser, autostart: bool) -> str:
    """The other user of a subnet, for a refusal: which network or interface, and when it collides
    with a network that starts at boot (``autostart``) or not."""
    if user.kind != "network":
        return "%s of the host interface %s (a route of the host)" % (user.subnet, user.name)
    if user.active:
        return "%s of the active network %s" % (user.subnet, user.name)
    when = "the two would collide at the next boot" if autostart else "it could not start while this one runs"
    return "%s of the network %s (inactive, started at boot: %s)" % (user.subnet, user.name, when)


# -- the host's routes ------------------------------------------------------------------------------
def ipv4_routes(text: str, byteorder: str = sys.byteorder) -> List[Tuple[str, str]]:
    """``(interface, subnet)`` of each directly connected route of /proc/net/route (the main
    table: addresses and masks in hex, in the host's byte order)."""
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            interface, destination, flags, mask = fields[0], int(fields[1], 16), int(fields[3], 16), int(fields[7], 16)
        except ValueError:
            continue
        if interface == _LOOPBACK or flags & (RTF_GATEWAY | RTF_REJECT) or not mask:
            continue
        address = ipaddress.IPv4Address(destination.to_bytes(4, byteorder))  # type: ignore[arg-type]
        netmask = ipaddress.IPv4Address(mask.to_bytes(4, byteorder))  # type: ignore[arg-type]
        try:
            found.append((interface, str(ipaddress.IPv4Network("%s/%s" % (address, netmask), strict=False))))
        except ValueError:
            continue  # a mask that is no prefix: not a subnet
    return found


def ipv6_routes(text: str) -> List[Tuple[str, str]]:
    """``(interface, subnet)`` of each directly connected route of /proc/net/ipv6_route: link-local
    and multicast routes left out (every interface has them)."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 10:
            continue
        try:
            destination, prefix, flags = int(fields[0], 16), int(fields[1], 16), int(fields[8], 16)
        except ValueError:
            continue
        interface = fields[9]
        if interface == _LOOPBACK or flags & (RTF_GATEWAY | RTF_REJECT) or not prefix or prefix > 128:
            continue
        subnet = ipaddress.IPv6Network((destination, prefix), strict=False)
        if any(subnet.subnet_of(far) for far in _NOT_ON_A_LINK):
            continue
        found.append((interface, str(subnet)))
    return found
