# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Addresses that lead back to the controller: a LAN peer that advertises one would have the admin's
plays run against the controller itself, or sent to every host of a subnet."""

from __future__ import annotations

import ipaddress
import socket
from typing import Callable, FrozenSet


def interface_addresses() -> FrozenSet[str]:
    """The controller's own addresses, the network and broadcast addresses of its IPv4 subnets and
    the subnet-router anycast address of its IPv6 ones (as ipaddress writes them); none where
    ifaddr (zeroconf's) is missing."""
    try:
        import ifaddr
    except ImportError:
        return frozenset()
    found = set()
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if ip.is_IPv4:
                interface = ipaddress.ip_interface("%s/%d" % (ip.ip, ip.network_prefix))
                found.add(str(interface.ip))
                if interface.network.prefixlen < 31:  # /31 and /32 have no network or broadcast address
                    found.update((str(interface.network.network_address), str(interface.network.broadcast_address)))
            else:
                interface = ipaddress.ip_interface("%s/%d" % (ip.ip[0], ip.network_prefix))
                found.add(str(interface.ip))
                if interface.network.prefixlen < 127:  # the subnet-router anycast address
                    found.add(str(interface.network.network_address))
    return frozenset(found)


def controller_test() -> Callable[[str], bool]:
    """A test of whether an address leads to the controller: one of interface_addresses, or one
    a socket of this machine can be bound to (its own, also a subnet's broadcast); sends nothing."""
    known = interface_addresses()

    def leads_here(address: str) -> bool:
        plain = address.split("%", 1)[0]
        try:
            normalized = str(ipaddress.ip_address(plain))
        except ValueError:
            return False
        return normalized in known or _binds(address)

    return leads_here


def _binds(address: str) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        where = socket.getaddrinfo(address, 0, family, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)[0][4]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind(where)
    except (OSError, UnicodeError, ValueError, IndexError):
        return False
    return True
