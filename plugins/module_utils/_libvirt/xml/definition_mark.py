# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the stored definition of a running guest changed since its QEMU started.

A change to a running guest's definition applies at its next start; until then the guest runs the
definition it started with. The run that changes it leaves a mark in the running guest's live
``<metadata>``, which libvirt drops when QEMU stops (a guest rebooting inside keeps its QEMU, and the
mark) and never writes to the stored definition. Later runs report ``reboot_required`` from it until
the guest starts again.
"""

from __future__ import annotations

from typing import Any, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import etree, parse

PENDING_NAMESPACE = "https://github.com/remotevirt/install/xmlns/pending/1"
PENDING_PREFIX = "rvi-pending"
_PENDING_TAG = "{%s}definition" % PENDING_NAMESPACE


def pending_element(changed: int) -> str:
    """The mark's element for libvirt's metadata call (its namespace is given with the call):
    ``changed``, when the stored definition changed (seconds since the epoch)."""
    return etree.tostring(etree.Element("definition", changed=str(changed)), encoding="unicode")


def mark_pending(client: Any, domain: Any, changed: int, audit: Any) -> None:
    """Leave the mark in the running guest's live metadata, through ``client`` (a libvirt Client).
    The definition it follows is stored either way: a failure goes to ``audit`` (the host log), and a
    guest that stopped meanwhile needs no mark (it starts with the new definition)."""
    try:
        if client.domain_is_active(domain):
            client.set_live_metadata(domain, PENDING_NAMESPACE, PENDING_PREFIX, pending_element(changed))
    except Exception as error:  # a LibvirtError; the define it follows succeeded
        name = domain.name()
        audit.progress("guest %s: its changed definition applies at its next start; that was not recorded: %s" % (name, error))


def definition_pending(live_xml: Optional[str]) -> bool:
    """Whether the running guest of live definition ``live_xml`` carries the mark."""
    return live_xml is not None and parse(live_xml).find("metadata/" + _PENDING_TAG) is not None
