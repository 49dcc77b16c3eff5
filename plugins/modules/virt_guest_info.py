#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virt_guest_info
short_description: Report libvirt guests with their state, cards, disks and addresses
version_added: 0.1.0
description:
  - Lists the guests (domains) of a libvirt host, defined or running, with their state and libvirt's reason
    for it, UUID, memory, vCPUs, autostart, network cards with their network or bridge, disks with their pool
    volume or path, and (for running guests) the addresses libvirt knows for their cards.
  - Changes nothing on the host, and logs nothing there; check mode returns the same result.
  - Each guest's XML is read once, without graphics passwords (libvirt's secure flag is not asked for);
    the result has no graphics, kernel command line or metadata.
author:
  - remotevirt.install maintainers (@remotevirt)
extends_documentation_fragment:
  - remotevirt.install.host
  - remotevirt.install.connection
attributes:
  check_mode:
    support: full
    description: Changes nothing either way; returns the same result.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show before and after.
options:
  name:
    description:
      - Report only the guest of this name (one lookup, no listing). A guest that does not exist gives an
        empty RV(guests), not a failure.
      - "Letters, digits and C(. _ + - : @), at most 255 bytes, not starting with C(.) or C(-)."
      - Mutually exclusive with O(name_pattern).
    type: str
  name_pattern:
    description:
      - Report only the guests whose name matches this shell pattern (C(*), C(?), C([abc])), case-sensitive,
        for example V(web*).
    type: str
  state:
    description:
      - Report only guests in one of these states. V(running) includes libvirt's C(blocked) and
        C(shutdown) (shutting down) states. Left out, guests in any state; an empty list is refused.
    type: list
    elements: str
    choices: [running, paused, shutoff, crashed, pmsuspended]
  addresses:
    description:
      - Where libvirt reads the addresses of running guests, as C(virsh domifaddr --source) does.
        V(lease), the DHCP leases of libvirt networks (cards on host bridges have none); V(arp), the host's
        ARP table; V(agent), the QEMU guest agent inside the guest; V(any), the first of these that has an
        address. V(none) reads no addresses (the cheapest).
      - A source that cannot answer for a guest (an agent not configured or not running) gives it no addresses
        and a warning, not a failure; under V(any) the next source is asked without a warning.
    type: str
    choices: [none, lease, arp, agent, any]
    default: lease
notes:
  - Guests undefined while the module reads the host are left out.
seealso:
  - module: remotevirt.install.virt_guest_install
  - module: remotevirt.install.virt_pool_volume_info
"""

EXAMPLES = r"""
- name: Every guest of the host
  remotevirt.install.virt_guest_info:
  register: all_guests

- name: The running web guests with their addresses from the guest agent
  remotevirt.install.virt_guest_info:
    name_pattern: "web*"
    state: [running]
    addresses: agent
  register: web

- name: One guest's first address
  remotevirt.install.virt_guest_info:
    name: app01
  register: app01

- name: Use it
  ansible.builtin.debug:
    msg: "{{ app01.guests[0].addresses[0].addresses[0].addr }}"
  when: app01.guests | length > 0 and app01.guests[0].addresses | length > 0
"""

RETURN = r"""
guests:
  description: The selected guests, by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Guest name.
      type: str
    uuid:
      description: libvirt's UUID of the guest.
      type: str
    state:
      description:
        - The state as C(virsh domstate) prints it, V(running), V(paused), V(shut off), V(crashed),
          V(pmsuspended), V(blocked), V(shutdown) or V(no state).
      type: str
    state_reason:
      description:
        - libvirt's reason for the state, as C(virsh domstate --reason) prints it, for example V(booted),
          V(user), V(ioerror).
      type: str
    persistent:
      description: Whether the guest has a definition (false for a transient guest).
      type: bool
    autostart:
      description: Whether libvirt starts the guest when the host boots.
      type: bool
    reboot_required:
      description:
        - Whether the guest runs (or is paused) with an older definition than its stored one, because
          M(remotevirt.install.virt_guest_install) changed the stored one since the guest's QEMU started; the
          change applies at its next start. V(false) for a guest that does not run, and for changes made by
          other tools.
      type: bool
    memory:
      description: Maximum memory in MiB.
      type: int
    vcpus:
      description: Number of virtual CPUs.
      type: int
    interfaces:
      description: The network cards, in the guest's order.
      type: list
      elements: dict
      contains:
        mac:
          description: MAC address, lower case.
          type: str
        type:
          description: libvirt's interface type, V(network), V(bridge), V(user), or another.
          type: str
        network:
          description: The libvirt network of a card of type V(network), else null.
          type: str
        bridge:
          description: The host bridge of a card of type V(bridge), else null.
          type: str
        model:
          description: Device model, for example V(virtio).
          type: str
    disks:
      description: The disks and cdroms, in the guest's order.
      type: list
      elements: dict
      contains:
        target:
          description: Target device, for example V(vda).
          type: str
        device:
          description: V(disk), V(cdrom) or V(floppy).
          type: str
        bus:
          description: Bus, for example V(virtio), V(sata), V(ide).
          type: str
        pool:
          description: Storage pool of a disk given as a pool volume, else null.
          type: str
        volume:
          description: Volume of a disk given as a pool volume, else null.
          type: str
        path:
          description: Host path of a file or block disk, else null (an empty cdrom has none either).
          type: str
        format:
          description: Format the guest reads the disk as (libvirt's driver type), for example V(qcow2) or V(raw).
          type: str
        source:
          description:
            - For a disk of a kind this collection does not make (a C(network) disk of an NBD, iSCSI or HTTP server,
              an C(nvme) or C(dir) disk), what it reads, such as C(nbd://host:port/name), with credentials, what a
              source's name holds after a C(?), C(;) or C(#), and query values masked; else null.
          type: str
    addresses:
      description:
        - The running guest's cards and addresses from O(addresses), as libvirt reads them; empty for a guest
          that does not run, and with O(addresses=none).
      type: list
      elements: dict
      contains:
        name:
          description: Card name as the source names it (C(vnet0) for leases and ARP, the guest's own name for the agent).
          type: str
        mac:
          description: MAC address.
          type: str
        addresses:
          description: Each address with C(addr), C(prefix) and C(type) (V(ipv4) or V(ipv6)).
          type: list
          elements: dict
  sample:
    - name: web01
      uuid: 6695eb01-f6a4-8304-79aa-97f2502e193f
      state: running
      state_reason: booted
      persistent: true
      autostart: false
      reboot_required: false
      memory: 2048
      vcpus: 2
      interfaces: [{mac: "52:54:00:6b:3c:58", type: network, network: default, bridge: null, model: virtio}]
      disks:
        - {target: vda, device: disk, bus: virtio, pool: default, volume: web01.qcow2, path: null, format: qcow2, source: null}
      addresses: [{name: vnet0, mac: "52:54:00:6b:3c:58", addresses: [{addr: 192.168.122.50, prefix: 24, type: ipv4}]}]
"""

from typing import Any, Callable, Dict, Mapping

from ansible_collections.remotevirt.install.plugins.module_utils._common.module_entry import RemotevirtModule, run_module
from ansible_collections.remotevirt.install.plugins.module_utils._common.options import connection_options
from ansible_collections.remotevirt.install.plugins.module_utils._info.guests import ADDRESS_SOURCES, STATE_FILTERS, run


def argument_spec() -> dict:
    return dict(
        **connection_options(),
        name=dict(type="str"),
        name_pattern=dict(type="str"),
        state=dict(type="list", elements="str", choices=list(STATE_FILTERS)),
        addresses=dict(type="str", default="lease", choices=list(ADDRESS_SOURCES)),
    )


def report(params: Mapping[str, Any], check_mode: bool, diff: bool, warn: Callable[[str], None]) -> Dict[str, Any]:
    result = run(params, check_mode, diff)
    for warning in result.pop("warnings", []):
        warn(warning)
    return result


def main() -> None:
    module = RemotevirtModule(
        argument_spec=argument_spec(), supports_check_mode=True, mutually_exclusive=[("name", "name_pattern")]
    )
    run_module(module, lambda params, check_mode, diff: report(params, check_mode, diff, module.warn))


if __name__ == "__main__":
    main()
