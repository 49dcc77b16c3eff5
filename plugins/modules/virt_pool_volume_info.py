#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virt_pool_volume_info
short_description: Report the volumes of libvirt storage pools with their format, sizes and users
version_added: 0.1.0
description:
  - Lists the volumes of one storage pool, or of every active pool, with their path, format, capacity,
    allocation and backing file as libvirt describes them, and which guests and volumes use each.
  - Formats come from libvirt's volume XML; the module never reads a volume's content. libvirt probes the files
    of a directory pool from their content on every refresh, so a volume this collection made raw or iso into
    which its guest wrote an image header would read as that format, with any host file as its backing file; such
    a volume is reported with the format it was made with, its file's size and no backing file, and a warning.
  - Changes nothing on the host, and logs nothing there; check mode returns the same result.
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
  pool:
    description:
      - Report only the volumes of this storage pool, which must exist and be active.
      - Left out, the volumes of every active pool; the inactive pools are named in RV(inactive_pools).
    type: str
  name:
    description:
      - Report only the volume of this name (in every selected pool).
      - "Letters, digits and C(. _ + - : @), at most 255 bytes, not starting with C(.) or C(-)."
      - Mutually exclusive with O(name_pattern).
    type: str
  name_pattern:
    description:
      - Report only the volumes whose name matches this shell pattern (C(*), C(?), C([abc])), case-sensitive,
        for example V(*.iso).
    type: str
  used_by:
    description:
      - Find the guests and volumes that use each volume (RV(volumes[].used_by)).
      - This reads every guest's XML once and every volume of every active pool once, however many volumes
        are reported. Set false to read only the selected volumes.
    type: bool
    default: true
  refresh:
    description:
      - Refresh the selected pools first (C(virsh pool-refresh)), so that files other tools put in a
        directory pool are listed. Refreshing changes no volume, only libvirt's list.
      - Left false, the volumes are those libvirt knows since the pool's last refresh.
    type: bool
    default: false
seealso:
  - module: remotevirt.install.virt_pool_volume
  - module: remotevirt.install.virt_guest_info
"""

EXAMPLES = r"""
- name: Every volume of the pool default, with its users
  remotevirt.install.virt_pool_volume_info:
    pool: default
  register: default_pool

- name: The ISO images of every active pool, without looking for users
  remotevirt.install.virt_pool_volume_info:
    name_pattern: "*.iso"
    used_by: false
  register: isos

- name: Volumes no guest or volume uses
  ansible.builtin.debug:
    msg: "{{ default_pool.volumes | selectattr('used_by', 'equalto', []) | map(attribute='name') | list }}"
"""

RETURN = r"""
volumes:
  description: The selected volumes, by pool and name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Volume name.
      type: str
    pool:
      description: Storage pool of the volume.
      type: str
    path:
      description: Path of the volume on the host.
      type: str
    key:
      description: libvirt's key of the volume.
      type: str
    format:
      description:
        - Format libvirt's volume XML names (V(qcow2), V(raw), V(iso)...), or null where the pool type has none.
        - For a volume this collection made V(raw) or V(iso), that format, whatever its content now reads as.
      type: str
    capacity:
      description: Virtual size in bytes.
      type: int
    allocation:
      description: Bytes allocated on the host.
      type: int
    backing_path:
      description: Path of the backing file of an overlay, else null.
      type: str
    backing_format:
      description: Format of the backing file, else null.
      type: str
    used_by:
      description:
        - Who uses the volume, by kind and name. A V(guest) (defined or running) has it as a disk or cdrom,
          by pool volume or by path, with its C(device) and C(target); a V(volume) (C(pool/name)) has it
          as its backing file.
        - Returned only with O(used_by=true).
      type: list
      elements: dict
  sample:
    - name: web01.qcow2
      pool: default
      path: /var/lib/libvirt/images/web01.qcow2
      key: /var/lib/libvirt/images/web01.qcow2
      format: qcow2
      capacity: 21474836480
      allocation: 1638400
      backing_path: /var/lib/libvirt/images/debian-12.qcow2
      backing_format: qcow2
      used_by:
        - {kind: guest, name: web01, device: disk, target: vda}
inactive_pools:
  description: Names of the pools left out because they are not active (without O(pool)).
  returned: always
  type: list
  elements: str
  sample: [backup]
"""

from ansible_collections.remotevirt.install.plugins.module_utils._common.module_entry import RemotevirtModule, run_module
from ansible_collections.remotevirt.install.plugins.module_utils._common.options import connection_options
from ansible_collections.remotevirt.install.plugins.module_utils._info.volumes import run


def argument_spec() -> dict:
    return dict(
        **connection_options(),
        pool=dict(type="str"),
        name=dict(type="str"),
        name_pattern=dict(type="str"),
        used_by=dict(type="bool", default=True),
        refresh=dict(type="bool", default=False),
    )


def main() -> None:
    module = RemotevirtModule(
        argument_spec=argument_spec(), supports_check_mode=True, mutually_exclusive=[("name", "name_pattern")]
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
