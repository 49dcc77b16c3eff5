# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import libvirt

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.definition_mark import (
    definition_pending,
    mark_pending,
)


class Audit:
    def __init__(self):
        self.lines = []

    def progress(self, line):
        self.lines.append(line)


def test_the_mark_is_live_only(test_client):
    """Left in the running guest's live definition; its stored one, what the next start runs, has none."""
    domain = test_client.find_domain("test")
    audit = Audit()
    mark_pending(test_client, domain, 1700000000, audit)
    assert audit.lines == []
    assert definition_pending(domain.XMLDesc(0))
    assert not definition_pending(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    domain.destroy()
    domain.create()
    assert not definition_pending(domain.XMLDesc(0))


def test_a_stopped_guest_gets_no_mark(test_client, unique_name):
    domain = test_client.find_domain("test")
    domain.destroy()
    try:
        audit = Audit()
        mark_pending(test_client, domain, 1700000000, audit)
        assert audit.lines == [] and not definition_pending(domain.XMLDesc(0))
    finally:
        domain.create()


def test_a_mark_that_cannot_be_left_is_logged_not_raised(test_client, monkeypatch):
    """The changed definition is stored either way: the run goes on."""
    domain = test_client.find_domain("test")

    def refused(*args):
        raise LibvirtError("change the live metadata of", "test", "refused")

    monkeypatch.setattr(test_client, "set_live_metadata", refused)
    audit = Audit()
    mark_pending(test_client, domain, 1700000000, audit)
    assert len(audit.lines) == 1 and "next start" in audit.lines[0] and "refused" in audit.lines[0]


def test_no_live_definition_is_no_mark():
    assert not definition_pending(None)
    assert not definition_pending("<domain type='qemu'><name>g</name><metadata><x xmlns='urn:other'/></metadata></domain>")
