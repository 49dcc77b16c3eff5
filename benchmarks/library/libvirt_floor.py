# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The floor of benchmarks/compare: only the libvirt calls of each benchmarked task, no checks.

A yardstick, not a product: whatever module does a task's work pays at least this (Python,
ansible.module_utils.basic, libvirt-python, lxml, a connection and the calls themselves).
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: libvirt_floor
short_description: Only the libvirt calls of the benchmarked tasks (benchmarks/compare's floor)
description:
  - C(lookup) reads the volume's XML (with O(domain), also the domain's), C(create) makes a sparse
    1 GiB qcow2 volume, C(define) makes that volume and defines a minimal domain on it, C(undefine)
    removes the domain and the volume when they exist.
options:
  op: {type: str, required: true, choices: [lookup, create, define, undefine]}
  pool: {type: str, required: true}
  volume: {type: str, required: true}
  domain: {type: str}
"""

# lxml is imported as both benchmarked collections import it to read and build XML.
import libvirt
from ansible.module_utils.basic import AnsibleModule
from lxml import etree

URI = "qemu:///system"

VOLUME_XML = (
    "<volume><name>%s</name><allocation>0</allocation><capacity unit='G'>1</capacity>"
    "<target><format type='qcow2'/></target></volume>"
)

DOMAIN_XML = (
    "<domain type='qemu'><name>%s</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"
    "<os><type>hvm</type></os><devices><disk type='file' device='disk'>"
    "<driver name='qemu' type='qcow2'/><source file='%s'/><target dev='vda' bus='virtio'/>"
    "</disk></devices></domain>"
)


def lookup(conn: libvirt.virConnect, pool: str, volume: str, domain: str | None) -> dict:
    """A no-op's libvirt work: read (and parse) what exists."""
    found = conn.storagePoolLookupByName(pool).storageVolLookupByName(volume)
    result = {"capacity": etree.fromstring(found.XMLDesc(0)).findtext("capacity")}
    if domain:
        result["domain"] = etree.fromstring(conn.lookupByName(domain).XMLDesc(0)).findtext("name")
    return dict(result, changed=False)


def create(conn: libvirt.virConnect, pool: str, volume: str) -> libvirt.virStorageVol:
    return conn.storagePoolLookupByName(pool).createXML(VOLUME_XML % volume, 0)


def define(conn: libvirt.virConnect, pool: str, volume: str, domain: str) -> None:
    conn.defineXML(DOMAIN_XML % (domain, create(conn, pool, volume).path()))


def undefine(conn: libvirt.virConnect, pool: str, volume: str, domain: str | None) -> bool:
    """Removes what exists of the domain and the volume; whether anything was."""
    changed = False
    if domain and domain in conn.listDefinedDomains():
        conn.lookupByName(domain).undefine()
        changed = True
    found = conn.storagePoolLookupByName(pool)
    if volume in found.listVolumes():
        found.storageVolLookupByName(volume).delete(0)
        changed = True
    return changed


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "op": {"type": "str", "required": True, "choices": ["lookup", "create", "define", "undefine"]},
            "pool": {"type": "str", "required": True},
            "volume": {"type": "str", "required": True},
            "domain": {"type": "str"},
        },
        required_if=[("op", "define", ["domain"])],
    )
    op, pool, volume, domain = (module.params[key] for key in ("op", "pool", "volume", "domain"))
    try:
        conn = libvirt.open(URI)
        if op == "lookup":
            module.exit_json(**lookup(conn, pool, volume, domain))
        if op == "create":
            create(conn, pool, volume)
        elif op == "define":
            define(conn, pool, volume, domain)
        else:
            module.exit_json(changed=undefine(conn, pool, volume, domain))
    except libvirt.libvirtError as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=True)


if __name__ == "__main__":
    main()
