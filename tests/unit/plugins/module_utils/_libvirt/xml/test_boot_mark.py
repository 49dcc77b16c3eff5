# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.boot_mark import (
    LogPosition,
    boot_element,
    boot_log_start,
    log_position,
    with_boot_mark,
)

DOMAIN = "<domain type='qemu'><name>web01</name><uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid><devices/></domain>"


def live_with(position: LogPosition) -> str:
    return with_boot_mark(DOMAIN, position)


def test_a_position_is_the_log_file_and_its_size(tmp_path):
    log = tmp_path / "serial.log"
    assert log_position(str(log))[:3] == (0, 0, 0)
    log.write_bytes(b"x" * 7)
    info = os.stat(log)
    assert log_position(str(log))[:3] == (7, info.st_dev, info.st_ino)
    assert log_position(None) is None
    assert log_position(str(log) + "\0") is None


def test_the_boot_counts_from_its_mark_while_the_log_is_the_marked_file(tmp_path):
    log = tmp_path / "serial.log"
    log.write_bytes(b"earlier boot: login: ")
    live = live_with(log_position(str(log)))
    assert boot_log_start(live, str(log)) == 21
    with log.open("ab") as written:
        written.write(b"this boot")
    assert boot_log_start(live, str(log)) == 21


def test_the_whole_log_counts_without_a_mark_or_once_the_log_changed_file_or_shrank(tmp_path):
    log = tmp_path / "serial.log"
    log.write_bytes(b"earlier boot: login: ")
    live = live_with(log_position(str(log)))
    assert boot_log_start(DOMAIN, str(log)) == 0
    assert boot_log_start(None, str(log)) == 0
    assert boot_log_start(live, None) == 0
    log.write_bytes(b"cut")
    assert boot_log_start(live, str(log)) == 0
    replaced = tmp_path / "new.log"
    replaced.write_bytes(b"a longer log written by a new file")
    replaced.replace(log)
    assert boot_log_start(live, str(log)) == 0
    log.unlink()
    assert boot_log_start(live, str(log)) == 0


def test_a_log_cut_in_place_and_written_past_the_mark_counts_whole(tmp_path):
    """copytruncate: the same file, as long as before again, but not the bytes the mark was made after."""
    log = tmp_path / "serial.log"
    log.write_bytes(b"earlier boot: login: ")
    live = live_with(log_position(str(log)))
    with log.open("r+b") as cut:
        cut.truncate(0)
    with log.open("ab") as written:
        written.write(b"this boot, after the cut: login: ")
    assert boot_log_start(live, str(log)) == 0


def test_a_log_that_did_not_exist_at_the_start_counts_whole(tmp_path):
    log = tmp_path / "serial.log"
    live = live_with(log_position(str(log)))
    log.write_bytes(b"login: ")
    assert boot_log_start(live, str(log)) == 0


def test_the_mark_replaces_an_earlier_one_and_keeps_the_rest_of_the_metadata():
    first = live_with(LogPosition(1, 2, 3, "ab"))
    again = with_boot_mark(first.replace("<metadata>", "<metadata><other xmlns='urn:x'/>"), LogPosition(4, 5, 6, "cd"))
    assert again.count("size=") == 1 and 'size="4"' in again and "urn:x" in again
    assert first.index("</uuid><metadata>") < first.index("<rvi-boot:boot")


def test_a_mark_that_is_not_numbers_counts_as_none():
    """4400 digits included: Python refuses to read them."""
    mark = "<b:boot xmlns:b='https://github.com/remotevirt/install/xmlns/boot/1' size='%s' device='x' inode='-1'/>" % ("0" * 4400)
    live = DOMAIN.replace("<devices/>", "<metadata>%s</metadata><devices/>" % mark)
    assert boot_log_start(live, "/nonexistent/serial.log") == 0


def test_the_element_for_libvirt_has_no_namespace_of_its_own():
    assert boot_element(LogPosition(1, 2, 3, "ab")) == '<boot size="1" device="2" inode="3" tail="ab"/>'


_XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@settings(max_examples=200, deadline=None)
@given(size=_XML_TEXT, device=_XML_TEXT, inode=_XML_TEXT)
def test_any_mark_someone_wrote_gives_a_start_within_the_log(tmp_path_factory, size, device, inode):
    """A mark edited by hand (virsh metadata --live) holds any text: the start is a byte of the log
    or 0, never an error."""
    from lxml import etree

    log = tmp_path_factory.mktemp("log") / "serial.log"
    log.write_bytes(b"login: " * 3)
    root = etree.fromstring(DOMAIN)
    metadata = etree.SubElement(root, "metadata")
    etree.SubElement(
        metadata, "{https://github.com/remotevirt/install/xmlns/boot/1}boot", {"size": size, "device": device, "inode": inode}
    )
    start = boot_log_start(etree.tostring(root, encoding="unicode"), str(log))
    assert isinstance(start, int) and 0 <= start <= 21


class _Started:
    """A guest just started, as libvirt tells why it runs; the metadata calls it gets."""

    def __init__(self, reason):
        self.reason = reason
        self.marked = []

    def domain_state(self, domain):
        return "running", self.reason

    def set_live_metadata(self, domain, namespace, prefix, element):
        self.marked.append(element)


class _Domain:
    def name(self):
        return "web01"


def test_a_boot_is_marked_unless_the_start_restored_a_saved_guest():
    """A restore resumes a boot whose mark came back with it; an image libvirt could not restore
    (incomplete) is booted afresh, and that boot is marked."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.boot_mark import mark_boot

    for reason, marked in (("booted", 1), ("restored", 0)):
        client = _Started(reason)
        mark_boot(client, _Domain(), LogPosition(5, 1, 2, "ab"), audit=None)
        assert len(client.marked) == marked
