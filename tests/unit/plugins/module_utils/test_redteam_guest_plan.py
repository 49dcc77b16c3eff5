"""Hostile and careless inputs against the guest planner (pure: no I/O).

Each test was a way found to break a promise; it now guards the fix.
"""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.module_utils.guest_plan import plan_guest
from ansible_collections.remotevirt.install.plugins.module_utils.xml.domain import Domain
from ansible_collections.remotevirt.install.plugins.module_utils.xml.volume import Volume
from test_guest_plan import MATCHING, STORED, request, stored_state, volume_disk

# web01 stored with a raw volume disk: what the collection defines for a raw volume.
STORED_RAW = STORED.replace("<driver name='qemu' type='qcow2'/>\n      <source pool='p' volume='web01-disk0.qcow2'/>",
                            "<driver name='qemu' type='raw'/>\n      <source pool='p' volume='web01-disk0.qcow2'/>")
# The same volume as a directory pool reports it after its guest wrote a qcow2 header into it:
# libvirt probes the format of every file in the pool on refresh.
GUEST_WRITTEN = Volume(name="web01-disk0.qcow2", capacity=10 << 30, format="qcow2", path="/srv/p/web01-disk0.qcow2",
                       backing_path="/etc/shadow", backing_format="raw")


def test_stored_raw_volume_disk_is_what_the_fixture_says():
    disks = [disk for disk in Domain.from_xml(STORED_RAW).disks if disk.device == "disk"]
    assert [disk.format for disk in disks] == ["raw"]


def test_rerun_keeps_the_stored_format_of_a_volume_disk_the_guest_rewrote():
    plan = plan_guest(request(**MATCHING), stored_state(volume_disk(GUEST_WRITTEN), xml=STORED_RAW))
    assert plan.actions == [], [action.command_line for action in plan.actions]
    assert "type=\"qcow2\"" not in (plan.after or "")
