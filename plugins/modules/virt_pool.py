#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virt_pool
short_description: Define, build, start and remove libvirt storage pools
version_added: 0.1.0
description:
  - Defines a storage pool from options (types V(dir), V(fs), V(netfs), V(logical), V(iscsi)) or
    from its XML, builds it when it is new, starts or stops it and sets its autostart.
  - Idempotent on content, not only on the name; the pool's definition is compared with the request.
    An inactive pool is redefined in place. An active pool whose definition differs is refused
    with what differs, unless O(recreate=true) or O(state=inactive).
  - Removing a pool keeps its storage (directory, file system, volume group) and volumes unless
    O(delete_volumes=true), which is refused while any guest uses one of its volumes, also as the
    backing file or data file of a disk elsewhere, or another pool's volume names one as such.
  - Type and source format are checked against the host's storage pool capabilities
    (C(virsh pool-capabilities)) where libvirt reports them.
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
    description: Shows the pool's definition (the parts this module manages), state and autostart before and after.
options:
  name:
    description:
      - Name of the storage pool.
      - "Letters, digits and C(. _ + - : @), at most 247 bytes (libvirt keeps files named after it), not
        starting with C(.) or C(-)."
    type: str
    required: true
  state:
    description:
      - V(active) defines the pool when needed (and builds a new one) and starts it.
      - V(present) defines it (and builds a new one); an existing pool stays active or inactive as it is,
        a new one stays inactive.
      - V(inactive) defines it and stops it. Stopping is refused while running guests use its volumes.
      - V(absent) stops and undefines it; its storage and volumes are kept unless O(delete_volumes=true).
    type: str
    choices: [present, active, inactive, absent]
    default: active
  type:
    description:
      - Pool type. V(dir) needs O(target_path); V(fs) one device in O(source_devices) and
        O(target_path) (its mount point); V(netfs) O(source_host), O(source_path) and O(target_path);
        V(logical) a volume group named O(source_name) (default O(name)), built on
        O(source_devices); V(iscsi) O(source_host) and the target's IQN in O(source_path).
      - Defaults to V(dir) when any definition option is given. Without any (and without O(xml)), an
        existing pool is kept as it is defined and only O(state) and O(autostart) apply.
      - Mutually exclusive with O(xml).
    type: str
    choices: [dir, fs, netfs, logical, iscsi]
  target_path:
    description:
      - Absolute path of the pool on the host, without C(..) components. The directory of a V(dir) pool,
        the mount point of V(fs) and V(netfs), C(/dev/<vg>) for V(logical) (libvirt's default),
        V(/dev/disk/by-path) by default for V(iscsi).
      - For V(dir), V(fs) and V(netfs), refused at plan time when it is a directory of the host's system
        (V(/), V(/etc), V(/var/lib)..., or anything under V(/etc), V(/boot), V(/dev), V(/proc), V(/sys)) or of
        its programs, packages, queues, logs and libvirt's own state (anything under V(/usr/lib), V(/lib),
        V(/usr/local/bin), V(/var/lib/dpkg), V(/var/lib/rpm), V(/var/spool), V(/var/log), or V(/var/lib/libvirt)
        but its V(images) and V(boot)), a home directory itself or a hidden directory in one, or
        when it is, holds or lies in the target of another pool (on the module's host also where either
        leads through symbolic links). Checked for a new or moved pool, and again before an inactive pool
        is started or built (its directory may have been replaced by a link since it was defined).
      - For a new, moved or stopped pool to start, also refused when it is, holds or lies in a directory a
        guest shares (virtiofs), on the module's host also through symbolic links or bind mounts.
      - With O(build=false) and O(state=active), a new pool's directory must exist (libvirt's start would
        fail after the define).
      - For a new or moved V(dir) pool, the existing directory (where it leads) must belong to root or to
        the user the module runs as, with no directory or link of another user on its way, and nobody else
        may write it; for V(fs) and V(netfs), the way to the mount point must be root's (or the module
        user's) alike. Refused at plan time otherwise (with a local O(uri)), judged again after the build
        and before a stopped pool starts. Another user who may write a pool's directory could put files
        there that runs as root take for volumes.
    type: str
  source_host:
    description: NFS/CIFS server (V(netfs)) or iSCSI portal (V(iscsi)), by name or address.
    type: str
  source_path:
    description:
      - V(netfs), the exported directory (absolute path); V(iscsi), the target's IQN
        (V(iqn.2004-04.com.example:storage)).
    type: str
  source_devices:
    description:
      - Absolute device paths. V(fs), the one block device to mount; V(logical), the physical
        volumes the volume group is built on (only needed to build it).
      - On a local host, a new pool (or one given other devices) never takes a block device the host
        uses, also through one of its partitions or a device built over it; one holding mounted file
        systems or swap is refused at plan time, and for V(fs) one held by device-mapper, LVM or RAID too
        (a V(logical) pool may adopt an existing volume group whose volumes are not mounted).
      - A device another pool has is refused at plan time, on a local host also under another spelling
        (a link to it, or a second loop device on the same image).
    type: list
    elements: str
  source_name:
    description: Volume group name of a V(logical) pool. Defaults to O(name).
    type: str
  source_format:
    description:
      - File system of V(fs) (V(ext4), V(xfs)...; V(auto) by default) or V(netfs) (V(nfs), V(cifs),
        V(glusterfs), V(auto)); V(lvm2) for V(logical). Checked against the host's pool capabilities.
    type: str
  initiator:
    description:
      - IQN of the host's iSCSI initiator, for a V(iscsi) pool whose target restricts initiators.
      - libvirt takes no credentials here; one written C(chap:password@iqn...) is refused, masked.
    type: str
  xml:
    description:
      - The whole pool definition as libvirt XML, instead of the definition options.
      - Parsed and compared like the options (paths normalised, libvirt's defaults kept), so a
        re-run with the same XML changes nothing. Its C(<name>), when present, must be O(name); its
        C(<uuid>), capacity and allocation are ignored.
      - Only the parts this module compares are accepted (name; source host, dir, device, name, format
        and initiator; target path and permissions mode, owner, group). Anything else (C(<auth>),
        C(<adapter>), C(host@port)...) is refused rather than defined and never compared. So is a part the
        pool's type does not take (a C(dir) pool's C(<source><dir>)), which its options refuse too and libvirt
        would drop.
      - Target permissions that would let another user write the directory are refused, as such a
        directory is when it exists (a mode with group or other write bits or bits beyond V(0777),
        and an owner other than root or the user the module runs as).
    type: str
  autostart:
    description:
      - Start the pool when libvirtd starts. Left as it is when not given (a new pool does not autostart).
    type: bool
  build:
    description:
      - Build a new pool after defining it (C(virsh pool-build)), and a redefined one whose target or
        devices changed, or (V(dir) pools) whose target mode, owner or group changed; libvirt reads those back
        from the directory whenever it refreshes the pool, so only the build, which sets them on the directory,
        makes them hold (an V(fs) or V(netfs) pool's are its mounted file system's, which libvirt never sets;
        a change of them is refused). Creates the directory of V(dir), V(fs) and V(netfs) pools; makes the file system
        of V(fs) and the volume group of V(logical) with C(--no-overwrite), so a device that already
        holds one is never formatted.
      - A V(fs) pool's device that holds a file system already is mounted as it is; the build then only
        makes the mount directory. A V(logical) pool's device that holds a volume group already fails
        the build (the new pool is undefined again); define a pool over an existing volume group with
        O(build=false).
      - An inactive V(dir) or V(netfs) pool whose directory is missing is built again before it is
        started (a run stopped between its define and its build left it so; read on a local host).
      - V(iscsi) pools have nothing to build.
    type: bool
    default: true
  recreate:
    description:
      - Apply a definition that differs from an active pool's by stopping it, redefining it and
        starting it again; or one of a different type by undefining the pool and defining it anew
        (storage and volumes stay). Refused while running guests use its volumes.
      - A new target directory or type (also of an inactive pool, redefined in place) is refused while
        any guest, running or not, has a disk in the pool (its disk would stay behind, no longer a
        volume of the pool).
    type: bool
    default: false
  delete_volumes:
    description:
      - With O(state=absent), delete every volume of the pool and then its storage (C(virsh pool-delete),
        the directory or the volume group) before undefining it.
      - Refused while any guest (running or not) has a disk in the pool, opens one of its volumes' files
        through a disk elsewhere (a backing file or a qcow2 data file on the way) or boots a kernel or
        initrd from it; while a volume of another pool names one of them as its backing file or data
        file; for a V(dir) pool on the module's host, while its directory holds what deleting the volumes
        libvirt lists would not remove (a hidden file, a directory that is not empty), so that deleting the
        directory would fail with the volumes already gone, or whose directory is, holds or lies in another
        pool's where they lead through symbolic links (its volumes are that pool's files); and for an
        inactive pool (its volumes cannot be listed) or an V(iscsi) one (its LUNs cannot be deleted).
    type: bool
    default: false
notes:
  - An existing pool's definition is read as libvirt keeps it (C(virsh pool-dumpxml --inactive)); the
    parts a request leaves out (a logical pool's target, a file system's format) are compared as libvirt has them.
  - V(dir), V(fs) (an ext4 loop device) and V(logical) (a volume group built on a loop device) pools are run
    through the whole cycle on a real libvirtd by the collection's integration tests; V(netfs) and V(iscsi) are
    covered by unit tests of their definitions and plans only.
  - M(remotevirt.install.virt_pool_volume) allocates volumes of a V(logical) pool whole and refuses a sparse one,
    which libvirt would make an LVM snapshot whose data is lost once writes fill its allocation.
seealso:
  - module: remotevirt.install.virt_pool_volume
  - name: libvirt storage pool XML
    description: The format this module builds and reads.
    link: https://libvirt.org/formatstorage.html#storage-pool-xml
"""

EXAMPLES = r"""
- name: A directory pool, started at boot
  remotevirt.install.virt_pool:
    name: images
    type: dir
    target_path: /srv/libvirt/images
    autostart: true

- name: An NFS share as a pool
  remotevirt.install.virt_pool:
    name: isos
    type: netfs
    source_host: nas.example.com
    source_path: /export/isos
    source_format: nfs
    target_path: /srv/libvirt/isos

- name: A volume group on a dedicated disk (never formats a disk that holds one already)
  remotevirt.install.virt_pool:
    name: vg_guests
    type: logical
    source_devices: [/dev/sdb]

- name: An iSCSI target's LUNs
  remotevirt.install.virt_pool:
    name: san
    type: iscsi
    source_host: san.example.com
    source_path: iqn.2004-04.com.example:storage.lun1

- name: The same directory pool from its XML
  remotevirt.install.virt_pool:
    name: images
    xml: |
      <pool type='dir'>
        <name>images</name>
        <target><path>/srv/libvirt/images</path></target>
      </pool>

- name: Move an active pool to another directory (stop, redefine, build, start)
  remotevirt.install.virt_pool:
    name: images
    type: dir
    target_path: /data/images
    recreate: true

- name: Remove a pool, keeping its files
  remotevirt.install.virt_pool:
    name: scratch
    state: absent

- name: Preview removing a pool with every volume in it
  remotevirt.install.virt_pool:
    name: scratch
    state: absent
    delete_volumes: true
  check_mode: true
"""

RETURN = r"""
changed:
  description: Whether the pool was (or in check mode would be) changed.
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
      description:
        - Verb, one of V(define), V(build), V(start), V(autostart), V(stop), V(delete-volume),
          V(delete), V(undefine).
      type: str
    kind:
      description: Kind of object, V(pool) or V(volume).
      type: str
    name:
      description: The pool's name, or V(pool/volume).
      type: str
    command:
      description: Equivalent virsh command line.
      type: str
    destructive:
      description: Whether the action destroys data.
      type: bool
  sample:
    - action: define
      kind: pool
      name: images
      command: virsh pool-define-as images dir --target /srv/libvirt/images
      destructive: false
    - action: build
      kind: pool
      name: images
      command: virsh pool-build images
      destructive: false
    - action: start
      kind: pool
      name: images
      command: virsh pool-start images
      destructive: false
pool:
  description:
    - The pool after the run (predicted in check mode); empty for O(state=absent).
    - Sizes are those of an active pool (null for an inactive one, and for one that check mode would start).
  returned: always
  type: dict
  contains:
    name:
      description: Pool name.
      type: str
    type:
      description: Pool type.
      type: str
    uuid:
      description: libvirt's UUID of the pool (null in check mode for a new pool, or one recreated as another type).
      type: str
    active:
      description: Whether the pool is started.
      type: bool
    autostart:
      description: Whether libvirtd starts it.
      type: bool
    target_path:
      description: Path of the pool on the host.
      type: str
    source_hosts:
      description: Source hosts.
      type: list
      elements: str
    source_path:
      description: Exported directory of a V(netfs) pool.
      type: str
    source_devices:
      description: Source devices (an V(iscsi) pool's target IQN).
      type: list
      elements: str
    source_name:
      description: Volume group of a V(logical) pool.
      type: str
    source_format:
      description: Source format.
      type: str
    capacity:
      description:
        - Size of the pool's storage in bytes; null for an inactive pool.
        - In check mode, null where the run changes the pool's definition or starts it (its storage's sizes are known
          once the run is over).
      type: int
    allocation:
      description: Bytes allocated (null where RV(pool.capacity) is).
      type: int
    available:
      description: Bytes free (null where RV(pool.capacity) is).
      type: int
  sample:
    name: images
    type: dir
    uuid: 3e3fce45-4f53-4fa7-bb32-11f34168b82b
    active: true
    autostart: true
    target_path: /srv/libvirt/images
    source_hosts: []
    source_path: null
    source_devices: []
    source_name: null
    source_format: null
    capacity: 107374182400
    allocation: 21474836480
    available: 85899345920
"""

from ansible_collections.remotevirt.install.plugins.module_utils._common.module_entry import RemotevirtModule, run_module
from ansible_collections.remotevirt.install.plugins.module_utils._common.options import audit_options, connection_options
from ansible_collections.remotevirt.install.plugins.module_utils._pool.request import source_host_secrets
from ansible_collections.remotevirt.install.plugins.module_utils._pool.runner import run


def argument_spec() -> dict:
    return dict(
        **connection_options(),
        **audit_options(),
        name=dict(type="str", required=True),
        state=dict(type="str", default="active", choices=["present", "active", "inactive", "absent"]),
        type=dict(type="str", choices=["dir", "fs", "netfs", "logical", "iscsi"]),
        target_path=dict(type="str"),
        source_host=dict(type="str"),
        source_path=dict(type="str"),
        source_devices=dict(type="list", elements="str"),
        source_name=dict(type="str"),
        source_format=dict(type="str"),
        initiator=dict(type="str"),
        xml=dict(type="str"),
        autostart=dict(type="bool"),
        build=dict(type="bool", default=True),
        recreate=dict(type="bool", default=False),
        delete_volumes=dict(type="bool", default=False),
    )


def main() -> None:
    module = RemotevirtModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        secrets=source_host_secrets,
        mutually_exclusive=[
            ("xml", "type"),
            ("xml", "target_path"),
            ("xml", "source_host"),
            ("xml", "source_path"),
            ("xml", "source_devices"),
            ("xml", "source_name"),
            ("xml", "source_format"),
            ("xml", "initiator"),
        ],
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
