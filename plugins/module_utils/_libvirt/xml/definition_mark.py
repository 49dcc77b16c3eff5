# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a running guest runs an older definition than its stored one.

A change to a running guest's definition applies at its next start; until then the guest runs the
definition it started with. Before a run changes the stored definition of a running guest, it leaves
a digest of the stored definition the guest started with in the guest's live ``<metadata>``, which
libvirt drops when QEMU stops (a reboot inside the guest keeps its QEMU, and the mark; a save and
restore keeps it too) and never writes to the stored definition. A later run compares that digest
with the stored definition's: a change undone, or rolled back, is pending no more. The mark is left
before the change, so a run stopped between the two leaves no change unmarked.
"""

from __future__ import annotations

import hashlib
from typing import Any, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import etree, parse

PENDING_NAMESPACE = "https://github.com/remotevirt/install/xmlns/pending/1"
PENDING_PREFIX = "rvi-pending"
_PENDING_TAG = "{%s}definition" % PENDING_NAMESPACE


def definition_digest(xml: str) -> str:
    """A digest of the stored definition ``xml`` as libvirt formats it, without its <metadata> (marks
    of this collection's own come and go there) and without passwords (the live metadata is readable
    on a read-only connection; a graphics password is short enough to guess from its digest)."""
    root = parse(xml)
    for metadata in root.findall("metadata"):
        root.remove(metadata)
    for element in root.iter():
        if "passwd" in element.attrib:
            del element.attrib["passwd"]
    return hashlib.sha256(etree.tostring(root)).hexdigest()[:32]


def started_from(xml: Optional[str]) -> Optional[str]:
    """The digest a mark in the definition ``xml`` holds; None without a mark."""
    if xml is None or PENDING_NAMESPACE not in xml:
        return None
    mark = parse(xml).find("metadata/" + _PENDING_TAG)
    return None if mark is None else mark.get("started", "")


def definition_pending(running_xml: Optional[str], stored_xml: str) -> bool:
    """Whether the guest that runs (or a saved guest resumes) the definition ``running_xml`` started
    from another stored definition than ``stored_xml``, as its mark says. A mark copied into the stored
    definition (``virsh dumpxml`` of the running guest, defined again) counts for nothing."""
    started = started_from(running_xml)
    return started is not None and started_from(stored_xml) is None and started != definition_digest(stored_xml)


def mark_element(started: str) -> str:
    """The mark's element for libvirt's metadata call (its namespace is given with the call)."""
    return etree.tostring(etree.Element("definition", started=started), encoding="unicode")


def mark_started_from(client: Any, domain: Any, started: str, audit: Any) -> None:
    """Leave the digest ``started`` in the running guest's live metadata, through ``client`` (a libvirt
    Client). A failure goes to ``audit`` (the host log): the change goes on, reported by this run only;
    a guest that stopped meanwhile needs no mark (its next start runs the stored definition)."""
    try:
        if client.domain_is_active(domain):
            client.set_live_metadata(domain, PENDING_NAMESPACE, PENDING_PREFIX, mark_element(started))
    except Exception as error:  # a LibvirtError
        name = domain.name()
        audit.progress("guest %s: that its changed definition applies at its next start was not recorded: %s" % (name, error))


def without_mark(xml: str) -> str:
    """The definition ``xml`` to store, without a mark copied into it."""
    if PENDING_NAMESPACE not in xml:
        return xml
    root = parse(xml)
    for mark in root.findall("metadata/" + _PENDING_TAG):
        mark.getparent().remove(mark)
    return etree.tostring(root, encoding="unicode")
