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
from typing import Any, NamedTuple, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import etree, parse
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain

PENDING_NAMESPACE = "https://github.com/remotevirt/install/xmlns/pending/1"
PENDING_PREFIX = "rvi-pending"
_PENDING_TAG = "{%s}definition" % PENDING_NAMESPACE


class Mark(NamedTuple):
    """What a running guest started from: the digest of that stored definition, and whether a change
    since gave it other passwords (which no digest covers: see definition_digest)."""

    started: str
    secrets_changed: bool = False


def definition_digest(xml: str) -> str:
    """A digest of the definition ``xml`` as this collection reads it (the fields it manages, in its own
    form, so libvirt's formatting and a patched definition's agree), without its <metadata> and with
    passwords and other secrets masked: the live metadata is readable on a read-only connection, and a
    console password is short enough to guess from its digest."""
    shown = Domain.from_xml(xml).with_changes(metadata=None).to_shown_xml()
    return hashlib.sha256(shown.encode("utf-8")).hexdigest()[:32]


def started_from(xml: Optional[str]) -> Optional[Mark]:
    """The mark in the definition ``xml``; None without one."""
    if xml is None or PENDING_NAMESPACE not in xml:
        return None
    element = parse(xml).find("metadata/" + _PENDING_TAG)
    if element is None:
        return None
    return Mark(element.get("started", ""), element.get("secrets") == "changed")


def running_mark(running_xml: Optional[str], stored_xml: str) -> Optional[Mark]:
    """The mark of the guest that runs (or a saved guest resumes) the definition ``running_xml``. A mark
    copied into the stored definition ``stored_xml`` (``virsh dumpxml`` of the running guest, defined
    again) says nothing of what the guest started from: None then."""
    return started_from(running_xml) if started_from(stored_xml) is None else None


def definition_pending(running_xml: Optional[str], stored_xml: str) -> bool:
    """Whether the guest that runs (or a saved guest resumes) the definition ``running_xml`` started
    from another stored definition than ``stored_xml``, as its mark says."""
    mark = running_mark(running_xml, stored_xml)
    return mark is not None and pending(mark, stored_xml)


def pending(mark: Mark, stored_xml: str) -> bool:
    """Whether a guest of ``mark`` runs an older definition than ``stored_xml``."""
    return mark.secrets_changed or mark.started != definition_digest(stored_xml)


def mark_element(mark: Mark) -> str:
    """The mark's element for libvirt's metadata call (its namespace is given with the call)."""
    element = etree.Element("definition", started=mark.started)
    if mark.secrets_changed:
        element.set("secrets", "changed")
    return etree.tostring(element, encoding="unicode")


def mark_started_from(client: Any, domain: Any, mark: Mark, audit: Any) -> None:
    """Leave ``mark`` in the running guest's live metadata, through ``client`` (a libvirt Client). A
    failure goes to ``audit`` (the host log): the change goes on, reported by this run only; a guest
    that stopped meanwhile needs no mark (its next start runs the stored definition)."""
    try:
        if client.domain_is_active(domain):
            client.set_live_metadata(domain, PENDING_NAMESPACE, PENDING_PREFIX, mark_element(mark))
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
