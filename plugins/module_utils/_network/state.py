# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the host has for a network request, as the runner reads it."""

from __future__ import annotations

from typing import Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.network import Network


class GuestOnNetwork(Record):
    """A guest with a card on the network; ``running`` guests lose their link when it stops."""

    name: str
    running: bool = False


class AddressUser(Record):
    """Something of the host on a subnet: another libvirt network (``kind`` network, active or
    started at boot) or a host interface with a route to a directly connected subnet (``kind``
    interface)."""

    kind: str
    name: str
    subnet: str
    active: bool = True
    autostart: bool = False


class NetworkState(Record):
    """What the host has, as read by the runner.

    ``definition`` is the network's persistent XML as libvirt returns it (a redefinition keeps what
    this module does not manage); ``live`` what the running network has, read where it is active (a
    ``virsh net-update`` of only one of them makes them differ); ``guests`` are read only where a plan could disconnect them
    (``None``: not read); ``bridge_exists`` whether forward: bridge's host bridge exists (None: not
    known, a remote URI); ``address_users`` the other networks and host interfaces on subnets, read
    only where the plan would start the network, set it to start at boot or change its addresses
    (``None``: not read), and ``routes_read`` whether the host's interfaces are among them (not
    with a remote URI); ``other_bridges``
    ``(network, bridge)`` of the host's other networks and ``interface_exists`` whether the host has an
    interface named as the requested bridge (None: no bridge asked for, or a remote URI), both read only
    where a bridge is given.
    """

    existing: Optional[Network] = None
    definition: Optional[str] = None
    live: Optional[Network] = None
    active: bool = False
    persistent: bool = True
    autostart: bool = False
    guests: Optional[Tuple[GuestOnNetwork, ...]] = None
    bridge_exists: Optional[bool] = None
    address_users: Optional[Tuple[AddressUser, ...]] = None
    routes_read: bool = False
    other_bridges: Tuple[Tuple[str, str], ...] = ()
    interface_exists: Optional[bool] = None
