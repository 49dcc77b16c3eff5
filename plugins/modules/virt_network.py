#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virt_network
short_description: Manage a libvirt virtual network (NAT, routed, isolated or on a host bridge)
version_added: 0.1.0
description:
  - Defines, starts, stops and deletes a libvirt virtual network, and keeps its content as declared
    (forward mode, bridge, DNS domain, IPv4 and IPv6 addresses, DHCP ranges, static DHCP hosts and
    PXE boot with a TFTP root and a BOOTP file).
  - Idempotent on content, not only on the name. Static DHCP hosts and DHCP ranges of a running
    network change in place (C(virsh net-update), live and in the definition; where a C(net-update)
    of only one of them made the running network and its definition differ, each is compared with the
    request and gets what it lacks). Anything else of a
    running network takes effect only when it starts again, which disconnects its guests; that
    restart is planned only with O(recreate=true), and the refusal without it names what differs and
    the guests with a card on the network.
  - A network that would run (now, or at boot with O(autostart=true)) on a subnet that overlaps the
    IPv4 or IPv6 subnet of another network of the host that is active or starts at boot, or a directly
    connected route of a host interface, is refused at plan time, naming the other network or interface
    and its subnet (libvirt would refuse to start it only after the definition and whatever the play
    changed before). An inactive network that starts at boot counts, as the two would collide at the
    next boot. With a remote O(uri) only the host's libvirt networks are compared (the host's routes
    are read from C(/proc/net/route) and C(/proc/net/ipv6_route) of the host the module runs on). The
    other networks are read only where the plan would define or start the network, make it start at
    boot or change its addresses.
  - Runs on the hypervisor host and talks to libvirt through libvirt-python.
  - Check mode returns the exact plan the real run executes; every action of a real run is logged
    on the host under the syslog identifier C(remotevirt).
author:
  - remotevirt.install maintainers (@remotevirt)
extends_documentation_fragment:
  - remotevirt.install.host
  - remotevirt.install.connection
  - remotevirt.install.audit
attributes:
  check_mode:
    support: full
    description: Reports the planned actions as C(plan) and changes nothing.
  diff_mode:
    support: full
    description: Shows the network's XML (the fields a user can set) before and after.
options:
  name:
    description:
      - Name of the network.
      - "Letters, digits and C(. _ + - : @), at most 247 bytes (libvirt keeps files named after it), not
        starting with C(.) or C(-)."
    type: str
    required: true
  state:
    description:
      - V(active) defines the network as declared and starts it.
      - V(present) defines it as declared and leaves it running or stopped as it is (a new network
        stays stopped).
      - V(inactive) defines it as declared and stops it. Running guests with a card on it lose their
        link; the plan names them.
      - V(absent) stops and undefines the network. A network that guests have a card on is kept
        unless O(delete_in_use=true).
    type: str
    choices: [present, active, inactive, absent]
    default: active
  forward:
    description:
      - V(nat) gives guests outbound access through the host's address (libvirt's default network).
      - V(route) routes the network's subnet without address translation.
      - V(isolated) connects guests with each other and the host only.
      - V(bridge) connects guests to the existing host bridge O(bridge); such a network has no
        address, DHCP or domain of its own.
      - Defaults to V(nat) for a new network; an existing network keeps its mode when left out.
    type: str
    choices: [nat, route, isolated, bridge]
  bridge:
    description:
      - The bridge device. For V(nat), V(route) and V(isolated), the bridge libvirt creates (left out,
        libvirt names one C(virbrN)); for O(forward=bridge), the existing host bridge.
      - For V(nat), V(route) and V(isolated), a name another network has, or an interface the host has
        already (its uplink, for one), is refused at plan time.
      - A Linux interface name, at most 15 bytes, without C(:).
    type: str
  domain:
    description: DNS domain of the network; dnsmasq answers for the guests' names in it.
    type: str
  ipv4:
    description:
      - The network's whole IPv4 configuration. Left out, an existing network keeps its own.
      - Every address must lie in the subnet of O(ipv4.address), be neither its network nor broadcast
        address nor the host's own; ranges may not overlap, and each static host has its own MAC,
        address and name.
    type: dict
    suboptions:
      address:
        description:
          - The host's address on the network with the prefix length, for example V(10.213.1.1/24).
          - Multicast, loopback, link-local, unspecified and reserved addresses are refused.
        type: str
        required: true
      dhcp_ranges:
        description:
          - Address ranges DHCP hands out. Empty or left out, the network has no DHCP (static hosts
            then get no lease either).
          - A range of more than 65535 addresses, which libvirt refuses, is refused at plan time.
        type: list
        elements: dict
        suboptions:
          start:
            description: First address of the range.
            type: str
            required: true
          end:
            description: Last address of the range.
            type: str
            required: true
      dhcp_hosts:
        description:
          - Static leases, each a card's MAC address with the address (and host name) it gets.
          - Static hosts of the network that these options cannot express (one without a MAC, added by
            another tool) are kept as they are; one that the new addresses or hosts leave no place for
            (outside the subnet, or with an address or name of a listed host) is refused at plan time,
            named, and never deleted unasked. The same holds for the IPv6 hosts (by DHCP id) of O(ipv6).
        type: list
        elements: dict
        suboptions:
          mac:
            description: MAC address of the guest's card, for example V(52:54:00:12:34:56) (unicast).
            type: str
            required: true
          ip:
            description: The address the card gets.
            type: str
            required: true
          name:
            description: Host name given with the lease (a DNS label).
            type: str
      tftp_root:
        description:
          - Absolute path on the host that dnsmasq serves over TFTP (PXE boot files).
          - On the module's host, a new or changed one must be a directory (dnsmasq does not start
            without it); a directory of the host's own files is refused, also where it leads through a
            symbolic link (V(/), V(/etc)..., and the trees of V(/root), V(/run), V(/var/lib) but for
            V(/var/lib/tftpboot) and V(/var/lib/tftp), V(/var/log), V(/var/cache), V(/var/backups),
            V(/var/mail) and V(/var/spool)), as every guest on the network could read it.
          - So is a new or changed one that is, holds or lies in a storage pool's directory (where it leads,
            through links and bind mounts), whose volumes are other guests' disks.
        type: str
      bootp_file:
        description:
          - Boot file name DHCP gives PXE clients, for example V(pxelinux.0), or an iPXE URL. Needs O(ipv4.dhcp_ranges).
          - Refused with a C(..) part, or with credentials (V(user:password@) before the host), as libvirt stores
            the name in the network's definition, and DHCP gives it to every client.
        type: str
      bootp_server:
        description: IPv4 address of the TFTP server holding O(ipv4.bootp_file), when it is not the host.
        type: str
  ipv6:
    description:
      - The network's whole IPv6 configuration. Left out, an existing network keeps its own.
    type: dict
    suboptions:
      address:
        description:
          - The host's address on the network with the prefix length, for example V(fd00:213::1/64).
          - Multicast, loopback, link-local and unspecified addresses and scope zones (V(%eth0)) are
            refused; with DHCP the prefix length must be 64 or longer (dnsmasq's limit).
        type: str
        required: true
      dhcp_ranges:
        description: Address ranges DHCPv6 hands out; one of more than 65535 addresses is refused at plan time.
        type: list
        elements: dict
        suboptions:
          start:
            description: First address of the range.
            type: str
            required: true
          end:
            description: Last address of the range.
            type: str
            required: true
  autostart:
    description:
      - Whether libvirt starts the network when the host boots. Left out, a new network does not
        autostart and an existing one keeps its setting.
    type: bool
  recreate:
    description:
      - Allow redefining and restarting a running network whose forward mode, bridge, domain,
        addresses, PXE settings, or the presence of DHCP differ. Its running guests lose their link
        (their cards stay on the old bridge's ports until they are plugged again); the plan names them.
    type: bool
    default: false
  delete_in_use:
    description:
      - With O(state=absent), delete the network even though guests have a card on it.
    type: bool
    default: false
notes:
  - A redefinition writes the forward mode, bridge name, domain and addresses; everything else of
    the definition (DNS entries, port groups, MTU, the NAT port range of an unchanged mode) and
    libvirt's UUID and MAC stay as they are.
  - Only the first C(<ip>) element of each address family is managed.
seealso:
  - name: libvirt network XML
    description: The format this module builds and reads.
    link: https://libvirt.org/formatnetwork.html
  - module: remotevirt.install.virt_guest_install
"""

EXAMPLES = r"""
- name: A NAT network with DHCP and a static lease
  remotevirt.install.virt_network:
    name: lab
    bridge: virbr-lab
    domain: lab.example
    ipv4:
      address: 10.213.1.1/24
      dhcp_ranges:
        - {start: 10.213.1.100, end: 10.213.1.199}
      dhcp_hosts:
        - {mac: "52:54:00:00:01:10", ip: 10.213.1.10, name: web01}
    autostart: true

- name: An isolated PXE network, served from the host's TFTP root
  remotevirt.install.virt_network:
    name: provisioning
    forward: isolated
    bridge: virbr-prov
    ipv4:
      address: 10.213.2.1/24
      dhcp_ranges:
        - {start: 10.213.2.50, end: 10.213.2.99}
      tftp_root: /var/lib/tftpboot
      bootp_file: pxelinux.0

- name: Guests on the existing host bridge br0
  remotevirt.install.virt_network:
    name: lan
    forward: bridge
    bridge: br0

- name: Preview a change of address that needs a restart, then allow it
  remotevirt.install.virt_network:
    name: lab
    ipv4:
      address: 10.213.3.1/24
      dhcp_ranges:
        - {start: 10.213.3.100, end: 10.213.3.199}
    recreate: true
  check_mode: true

- name: Remove a network no guest uses
  remotevirt.install.virt_network:
    name: lab
    state: absent
"""

RETURN = r"""
changed:
  description: Whether the network was (or in check mode would be) changed.
  returned: always
  type: bool
plan:
  description:
    - The actions in order, each with an equivalent command line. Check mode and the real run
      return the same plan.
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description: Verb, one of V(define), V(update), V(start), V(stop), V(undefine), V(autostart).
      type: str
    kind:
      description: Kind of object, V(network).
      type: str
    name:
      description: Name of the network.
      type: str
    command:
      description:
        - Equivalent virsh command line. A C(net-destroy) that disconnects running guests names them
          in a trailing comment.
      type: str
    destructive:
      description: Whether the action disconnects guests or deletes the network.
      type: bool
  sample:
    - action: update
      kind: network
      name: lab
      command: >-
        virsh net-update lab add-last ip-dhcp-host '<host mac="52:54:00:00:01:11" ip="10.213.1.11"/>'
        --live --config --parent-index 0
      destructive: false
network:
  description:
    - Facts of the network after the run (predicted in check mode); empty for O(state=absent).
  returned: always
  type: dict
  contains:
    name:
      description: Network name.
      type: str
    uuid:
      description: libvirt's UUID (not known in check mode for a new network).
      type: str
    forward:
      description: Forward mode, V(nat), V(route), V(isolated) or V(bridge) (or another mode libvirt has).
      type: str
    bridge:
      description: Bridge device (not known in check mode when libvirt names it).
      type: str
    domain:
      description: DNS domain.
      type: str
    ipv4:
      description: The host's IPv4 address on the network with its prefix length.
      type: str
    ipv6:
      description: The host's IPv6 address on the network with its prefix length.
      type: str
    active:
      description: Whether the network runs.
      type: bool
    autostart:
      description: Whether libvirt starts it at boot.
      type: bool
    persistent:
      description: Whether it has a definition.
      type: bool
  sample:
    name: lab
    uuid: 0f3c3c9e-3f8e-4c7b-9a55-7b1c1f3f8a10
    forward: nat
    bridge: virbr-lab
    domain: lab.example
    ipv4: 10.213.1.1/24
    ipv6: null
    active: true
    autostart: true
    persistent: true
"""

from ansible_collections.remotevirt.install.plugins.module_utils._common.module_entry import RemotevirtModule, run_module
from ansible_collections.remotevirt.install.plugins.module_utils._common.options import audit_options, connection_options
from ansible_collections.remotevirt.install.plugins.module_utils._network.request import host_name_secrets
from ansible_collections.remotevirt.install.plugins.module_utils._network.runner import run


def _range_spec() -> dict:
    return dict(start=dict(type="str", required=True), end=dict(type="str", required=True))


def argument_spec() -> dict:
    return dict(
        **connection_options(),
        **audit_options(),
        name=dict(type="str", required=True),
        state=dict(type="str", default="active", choices=["present", "active", "inactive", "absent"]),
        forward=dict(type="str", choices=["nat", "route", "isolated", "bridge"]),
        bridge=dict(type="str"),
        domain=dict(type="str"),
        ipv4=dict(
            type="dict",
            options=dict(
                address=dict(type="str", required=True),
                dhcp_ranges=dict(type="list", elements="dict", options=_range_spec()),
                dhcp_hosts=dict(
                    type="list",
                    elements="dict",
                    options=dict(mac=dict(type="str", required=True), ip=dict(type="str", required=True), name=dict(type="str")),
                ),
                tftp_root=dict(type="str"),
                bootp_file=dict(type="str"),
                bootp_server=dict(type="str"),
            ),
        ),
        ipv6=dict(
            type="dict",
            options=dict(
                address=dict(type="str", required=True), dhcp_ranges=dict(type="list", elements="dict", options=_range_spec())
            ),
        ),
        autostart=dict(type="bool"),
        recreate=dict(type="bool", default=False),
        delete_in_use=dict(type="bool", default=False),
    )


def main() -> None:
    module = RemotevirtModule(argument_spec=argument_spec(), supports_check_mode=True, secrets=host_name_secrets)
    run_module(module, run)


if __name__ == "__main__":
    main()
