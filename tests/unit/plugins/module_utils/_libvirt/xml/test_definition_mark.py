# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import libvirt
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import etree, parse, replace_metadata
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.definition_mark import (
    PENDING_NAMESPACE,
    Mark,
    definition_digest,
    definition_pending,
    mark_element,
    mark_started_from,
    started_from,
    without_mark,
)

STORED = (
    "<domain type='qemu'><name>g</name><metadata><x:i xmlns:x='urn:other' at='1'/></metadata><memory unit='KiB'>{memory}</memory>"
    "<devices><graphics type='vnc' passwd='{password}'/></devices></domain>"
)


def stored(memory=262144, password="secret"):
    return STORED.format(memory=memory, password=password)


def marked(xml, started, secrets_changed=False):
    root = parse(xml)
    element = mark_element(Mark(started, secrets_changed))
    mark = etree.fromstring(element.replace("<definition", "<definition xmlns='%s'" % PENDING_NAMESPACE, 1))
    replace_metadata(root, mark)
    return etree.tostring(root, encoding="unicode")


class Audit:
    def __init__(self):
        self.lines = []

    def progress(self, line):
        self.lines.append(line)


def test_pending_while_the_stored_definition_differs_from_the_one_the_guest_started_from():
    live = marked(stored(), definition_digest(stored()))
    assert not definition_pending(live, stored())
    assert definition_pending(live, stored(memory=524288))
    # changed back (or rolled back): pending no more
    assert not definition_pending(live, stored(memory=262144))


def test_metadata_and_passwords_are_not_part_of_the_digest():
    """Marks come and go in <metadata>; a digest of a short password could be guessed from the live metadata."""
    digest = definition_digest(stored())
    assert digest == definition_digest(stored(password="other"))
    assert digest == definition_digest(stored().replace("at='1'", "at='2'"))
    assert digest != definition_digest(stored(memory=1))
    assert "secret" not in mark_element(Mark(digest))


def test_a_changed_password_is_pending_until_the_guest_starts_again():
    """No digest covers a password: the change that gives the guest another one says so in the mark."""
    live = marked(stored(), definition_digest(stored()), secrets_changed=True)
    assert started_from(live) == Mark(definition_digest(stored()), True)
    assert definition_pending(live, stored(password="new"))
    assert definition_pending(live, stored())  # changed back: cannot be told from the digest


def test_the_digest_is_of_the_fields_the_collection_reads():
    """libvirt's formatting (attribute order, quotes, elements it adds) does not move it."""
    reordered = stored().replace("<domain type='qemu'>", '<domain type="qemu"><on_crash>destroy</on_crash>')
    assert definition_digest(reordered) == definition_digest(stored())


def test_a_mark_copied_into_the_stored_definition_counts_for_nothing():
    """virsh dumpxml of the running guest, defined again, carries its live metadata along."""
    copied = marked(stored(memory=524288), definition_digest(stored()))
    assert not definition_pending(copied, copied)
    assert started_from(without_mark(copied)) is None
    assert without_mark(stored()) == stored()


def test_no_mark_is_nothing_pending():
    assert started_from(None) is None and started_from(stored()) is None
    assert not definition_pending(None, stored()) and not definition_pending(stored(), stored(memory=1))


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40))
def test_any_digest_text_reads_back(text):
    """A mark whose digest is not one (another version's, a hostile edit) reads back as written, never raises."""
    cleaned = "".join(char for char in text if char in "\t\n\r" or ord(char) >= 0x20)
    if any(0xFFFE <= ord(char) or 0xD800 <= ord(char) <= 0xDFFF for char in cleaned):
        return
    live = marked(stored(), cleaned)
    assert started_from(live) == Mark(cleaned)
    assert definition_pending(live, stored()) is (cleaned != definition_digest(stored()))


def test_the_mark_is_live_only(test_client):
    """Left in the running guest's live definition; its stored one, what the next start runs, has none."""
    domain = test_client.find_domain("test")
    audit = Audit()
    mark_started_from(test_client, domain, Mark("d1"), audit)
    assert audit.lines == []
    assert started_from(domain.XMLDesc(0)) == Mark("d1")
    assert started_from(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)) is None
    domain.destroy()
    domain.create()
    assert started_from(domain.XMLDesc(0)) is None


def test_a_stopped_guest_gets_no_mark(test_client):
    domain = test_client.find_domain("test")
    domain.destroy()
    try:
        audit = Audit()
        mark_started_from(test_client, domain, Mark("d1"), audit)
        assert audit.lines == [] and started_from(domain.XMLDesc(0)) is None
    finally:
        domain.create()


def test_a_mark_that_cannot_be_left_is_logged_not_raised(test_client, monkeypatch):
    """The change goes on; only this run reports it."""
    domain = test_client.find_domain("test")

    def refused(*args):
        raise LibvirtError("change the live metadata of", "test", "refused")

    monkeypatch.setattr(test_client, "set_live_metadata", refused)
    audit = Audit()
    mark_started_from(test_client, domain, Mark("d1"), audit)
    assert len(audit.lines) == 1 and "next start" in audit.lines[0] and "refused" in audit.lines[0]
